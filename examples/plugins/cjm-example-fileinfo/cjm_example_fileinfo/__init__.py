"""cjm-example-fileinfo: an example plugin that needs a system package (`file`)."""

__version__ = "0.1.0"
