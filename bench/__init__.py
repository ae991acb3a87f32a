"""Benchmarks: `make bench` (all) or `python -m bench NAME...`; figures land in BENCHMARKS.md."""
