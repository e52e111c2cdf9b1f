"""Benchmarks of the one-timer dispatcher design (issue 5): ``python -m benchmarks``.

See ``benchmarks/__main__.py`` for the scenarios and docs/benchmarks.md for the figures.
"""
