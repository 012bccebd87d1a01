"""Benchmarks of Mamori against the design targets; run each as `python -m bench.NAME` (see bench/README.md)."""
