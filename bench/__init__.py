"""Benchmarks of nxbridge: ``python -m bench`` (``make bench``) prints every figure and rewrites docs/benchmarks.md."""
