"""Helpers shared by tests and benchmarks (real-photo clips, fixtures that are not fixtures)."""
