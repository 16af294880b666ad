"""Benchmarks run by hand (``python -m benchmarks.run``); not part of the package."""
