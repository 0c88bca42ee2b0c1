"""A hostile plugin: each action tries one attack of issue 13 and reports what it managed."""
