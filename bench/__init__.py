"""Benchmarks of skill-lsp: `python -m bench` runs the suite (see bench/README.md).

Nothing here is imported by the package or the tests; timings live in this folder only.
"""
