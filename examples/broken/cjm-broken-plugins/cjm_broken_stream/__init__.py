"""Streams forever."""
