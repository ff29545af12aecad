"""Benchmarks of the whole chain: ``python -m bench [name ...]``; not part of the test run."""
