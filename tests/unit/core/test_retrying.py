"""retry_transient: backoff on transient errors, bounded by the deadline; other errors pass through."""

from __future__ import annotations

import pytest
from testgenie.errors import DatabaseUnavailableError, ValidationError
from testgenie.retrying import retry_transient


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.pauses: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.pauses.append(seconds)
        self.now += seconds


def test_retries_with_growing_pauses_until_the_action_succeeds() -> None:
    clock = FakeClock()
    outcomes: list[Exception | str] = [*([DatabaseUnavailableError("down")] * 4), "stored"]

    def action() -> str:
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    assert retry_transient(action, what="finish", deadline=200.0, clock=clock, sleep=clock.sleep) == "stored"
    assert clock.pauses == [0.25, 0.5, 1.0, 2.0]


def test_gives_up_at_the_deadline_with_the_last_error() -> None:
    clock = FakeClock()

    def action() -> None:
        raise DatabaseUnavailableError("still down")

    with pytest.raises(DatabaseUnavailableError, match="still down"):
        retry_transient(action, what="finish", deadline=105.0, clock=clock, sleep=clock.sleep)
    assert clock.now == 105.0
    assert max(clock.pauses) <= 4.0


def test_a_non_transient_error_is_not_retried() -> None:
    clock = FakeClock()
    calls = 0

    def action() -> None:
        nonlocal calls
        calls += 1
        raise ValidationError("bad")

    with pytest.raises(ValidationError):
        retry_transient(action, what="finish", deadline=200.0, clock=clock, sleep=clock.sleep)
    assert calls == 1
