"""Test plugins for cjm-docker's runtime tests: one image, many plugin classes."""
