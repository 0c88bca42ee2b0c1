"""Returns a result JSON cannot carry."""
