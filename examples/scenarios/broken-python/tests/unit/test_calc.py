"""One passing test and one that catches the bug in calc.mean."""

from __future__ import annotations

from calc import mean, total


def test_total_adds_up() -> None:
    assert total([1, 2, 3.5]) == 6.5


def test_mean_of_nothing_is_zero() -> None:
    assert mean([]) == 0.0
