from __future__ import annotations

import pytest
from testgenie.suggest import closest, did_you_mean


@pytest.mark.parametrize(
    ("typed", "known", "expected"),
    [
        ("helo-python", ["hello-python", "hello-node", "shop"], "hello-python"),
        ("unti", ["unit", "lint", "docs"], "unit"),
        ("lnit", ["unit", "lint", "docs"], "lint"),  # a tie with `unit`: the swapped letters win
        ("SMOK", ["quick", "smoke", "comprehensive"], "smoke"),
        ("payments", ["hello-python", "shop"], None),
        ("x", [], None),
    ],
)
def test_the_closest_known_name(typed: str, known: list[str], expected: str | None) -> None:
    assert closest(typed, known) == expected


def test_did_you_mean_is_empty_without_a_close_name_or_for_the_name_itself() -> None:
    assert did_you_mean("unti", ["unit"]) == "; did you mean 'unit'?"
    assert did_you_mean("payments", ["unit"]) == ""
    assert did_you_mean("unit", ["unit"]) == ""
