"""cjm-example-echo: a pip-only example plugin for cjm-docker."""

__version__ = "0.1.0"
