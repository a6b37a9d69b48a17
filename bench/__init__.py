"""Benchmarks: run as `python -m bench.run` from the repository root (make bench)."""
