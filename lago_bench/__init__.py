"""Benchmarks of the real-time node (``lago bench ...``); see docs/benchmarks.md."""
