"""Publishes a config schema that is not valid JSON Schema."""
