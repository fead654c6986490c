"""Benchmark scripts: `python -m benchmarks.run` prints this machine's figures (see the README)."""
