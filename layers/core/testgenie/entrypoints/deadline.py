"""How long a run may take inside one Lambda invocation."""

from __future__ import annotations

import time

# Kept free at the end of an invocation for the run's final writes (execution row, request status).
SAFETY_MARGIN_MS = 10_000


def run_deadline(time_left_ms: int | None) -> float | None:
    """The monotonic time a run must stop by so its result is still written before the Lambda ends."""
    if time_left_ms is None:
        return None
    return time.monotonic() + max(0, time_left_ms - SAFETY_MARGIN_MS) / 1000


# API Gateway's HTTP API ends a request at 30 s: POST /executions answers 202 before that.
RUN_NOW_WAIT_SECONDS = 25.0


def run_now_wait_seconds(time_left_ms: int | None) -> float:
    """How long POST /executions waits for a durable run: 25 s, less when the invocation has less."""
    if time_left_ms is None:
        return RUN_NOW_WAIT_SECONDS
    return max(0.0, min(RUN_NOW_WAIT_SECONDS, (time_left_ms - SAFETY_MARGIN_MS) / 1000))
