"""Bounded retries with backoff for work that must not be dropped while a dependency blinks.

A worker holding a finished run keeps trying to record it through a short database outage (a
failover takes seconds) instead of dropping it and letting the run repeat after its lease expires
(docs/database.md, "What can go wrong"). The bound is the caller's deadline.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from testgenie.errors import TransientError
from testgenie.observability import logger

T = TypeVar("T")

FIRST_DELAY_SECONDS = 0.25
MAX_DELAY_SECONDS = 4.0
# Without a deadline (a synchronous call), give up after this long.
DEFAULT_BUDGET_SECONDS = 60.0


def retry_transient(
    action: Callable[[], T],
    *,
    what: str,
    deadline: float | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    give_up_on: tuple[type[TransientError], ...] = (),
) -> T:
    """`action()`, retried on TransientError with exponential backoff until `deadline`
    (time.monotonic()); the last error is raised once no time is left, or at once when it is one of
    `give_up_on`. `action` must be safe to run again after a failure (e.g. it reads back a write
    whose outcome is unknown)."""
    stop_at = deadline if deadline is not None else clock() + DEFAULT_BUDGET_SECONDS
    delay = FIRST_DELAY_SECONDS
    tries = 0
    while True:
        tries += 1
        try:
            return action()
        except TransientError as exc:
            left = stop_at - clock()
            if left <= 0 or isinstance(exc, give_up_on):
                logger.error(
                    f"{what} failed; no time left to retry", extra={"tries": tries, "error": exc.message}
                )
                raise
            pause = min(delay, left)
            logger.warning(
                f"{what} failed; retrying", extra={"retry_in_s": round(pause, 2), "error": exc.message}
            )
            sleep(pause)
            delay = min(delay * 2, MAX_DELAY_SECONDS)
