"""A test plugin whose result needs both a conda package and a pip package."""
