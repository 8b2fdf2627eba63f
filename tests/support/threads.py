"""Waiting on threads with a bound: a stuck thread fails its test at once, named, well inside
pytest-timeout's 300 s (a failed connect must never hang a whole test)."""

from __future__ import annotations

import threading
from collections.abc import Iterable

# Every barrier and join of a test waits at most this long (pytest-timeout is 300 s).
WAIT_SECONDS = 120.0


def barrier(parties: int) -> threading.Barrier:
    """A barrier that breaks (BrokenBarrierError in each waiter) instead of waiting for ever."""
    return threading.Barrier(parties, timeout=WAIT_SECONDS)


def start_all(threads: Iterable[threading.Thread]) -> list[threading.Thread]:
    started = list(threads)
    for thread in started:
        thread.start()
    return started


def join_all(threads: Iterable[threading.Thread], timeout: float = WAIT_SECONDS) -> None:
    """Join every thread within `timeout` seconds in all; fail naming the ones still running."""
    import time

    deadline = time.monotonic() + timeout
    pending = list(threads)
    for thread in pending:
        thread.join(max(0.0, deadline - time.monotonic()))
    stuck = [thread.name for thread in pending if thread.is_alive()]
    assert not stuck, f"threads still running after {timeout:.0f}s: {stuck}"
