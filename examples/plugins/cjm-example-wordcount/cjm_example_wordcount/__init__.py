"""cjm-example-wordcount: the example plugin of docs/plugins.md."""
