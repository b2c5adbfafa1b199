"""Benchmarks (not tests): corpus builder and side-by-side timings; results in BENCHMARKS.md."""
