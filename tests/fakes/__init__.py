"""In-memory stand-ins for what cannot run in a unit test (the engine, GPUs); one of each."""
