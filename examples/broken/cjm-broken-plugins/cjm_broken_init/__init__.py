"""Raises in initialize."""
