"""Constants live in one module and are imported from it: a second spelling drifts (two scenario-name
patterns once disagreed on the length of a name)."""

from __future__ import annotations

from pathlib import Path

import pytest
from testgenie.errors import ValidationError
from testgenie.queue.models import MAX_IDEMPOTENCY_KEY_LENGTH, checked_idempotency_key

REPO_ROOT = Path(__file__).resolve().parents[3]
SHIPPED = ("layers", "functions", "local")


def _spellings(text: str) -> list[str]:
    found = []
    for root in SHIPPED:
        for path in sorted((REPO_ROOT / root).rglob("*.py")):
            if ".venv" in path.parts:
                continue
            if text in path.read_text(encoding="utf-8"):
                found.append(str(path.relative_to(REPO_ROOT)))
    return found


@pytest.mark.parametrize(
    ("text", "home"),
    [
        ("A-Za-z0-9_-", "layers/core/testgenie/orchestrator/planning/catalog.py"),
        ('"scenarioName is required"', "layers/core/testgenie/orchestrator/planning/catalog.py"),
        ('"execution not found"', "layers/core/testgenie/records.py"),
        ('"suite request not found"', "layers/core/testgenie/queue/models.py"),
        ("Idempotency-Key must", "layers/core/testgenie/queue/models.py"),
        ('"completed", "failed"', None),
    ],
)
def test_a_constant_is_spelled_in_its_home_only(text: str, home: str | None) -> None:
    assert _spellings(text) == ([home] if home else [])


def test_the_idempotency_key_is_checked_once_with_every_rule() -> None:
    assert checked_idempotency_key(None) is None
    assert checked_idempotency_key("") is None
    assert checked_idempotency_key("  nightly-1 ") == "nightly-1"
    assert checked_idempotency_key("k" * MAX_IDEMPOTENCY_KEY_LENGTH) == "k" * MAX_IDEMPOTENCY_KEY_LENGTH
    for bad, message in [
        ("k" * (MAX_IDEMPOTENCY_KEY_LENGTH + 1), "1 to 255 characters"),
        ("   ", "1 to 255 characters"),
        ("a\x00b", "printable"),
    ]:
        with pytest.raises(ValidationError, match=message):
            checked_idempotency_key(bad)
