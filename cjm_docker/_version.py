"""The one place the version lives; the worker protocol version is in wire.py."""

__version__ = "0.1.0"
