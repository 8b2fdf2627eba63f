"""Small statistics helpers (with a bug the tests catch)."""

from __future__ import annotations


def total(values: list[float]) -> float:
    return float(sum(values))


def mean(values: list[float]) -> float:
    """Average of values; meant to be 0.0 for no values, but divides by zero instead (the bug)."""
    return total(values) / len(values)
