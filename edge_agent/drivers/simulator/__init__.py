"""The built-in simulated machine, for demos and tests."""
