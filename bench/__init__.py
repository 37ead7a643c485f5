"""Benchmarks: `make bench` (python -m bench). Ratios are against a baseline measured in the same run."""
