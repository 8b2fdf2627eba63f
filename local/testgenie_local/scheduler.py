"""Fires the template's enabled `rate(...)` schedules at their functions, with their Input as the event.

`cron(...)` and `at(...)` expressions are reported and not run locally. A schedule's period can be
shortened for tests and demos with TESTGENIE_SCHEDULE_SECONDS, e.g. "reap=1" (by the Input's
`action`) or "ReapSchedule=1" (by the event's name); "*=N" applies to every enabled schedule.
"""

from __future__ import annotations

import logging
import re
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from testgenie_local.runtime import FunctionRuntime
from testgenie_local.template import Schedule

log = logging.getLogger("testgenie.local.scheduler")
_RATE_RE = re.compile(r"^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days|second|seconds)\s*\)$")
_UNIT = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}


def rate_seconds(expression: str) -> float | None:
    """Seconds between two firings of a `rate(...)` expression; None for anything else."""
    match = _RATE_RE.match(expression.strip())
    if not match:
        return None
    value = int(match.group(1))
    if value <= 0:
        return None
    return float(value * _UNIT[match.group(2).rstrip("s")])


def parse_overrides(text: str | None) -> dict[str, float]:
    """ "reap=1,enqueue=30" -> {"reap": 1.0, "enqueue": 30.0}; bad entries raise ValueError."""
    overrides: dict[str, float] = {}
    for item in (text or "").split(","):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        seconds = float(value) if sep else -1.0
        if not key.strip() or seconds <= 0:
            raise ValueError(f"TESTGENIE_SCHEDULE_SECONDS: expected NAME=SECONDS, got {item.strip()!r}")
        overrides[key.strip()] = seconds
    return overrides


@dataclass
class PlannedSchedule:
    runtime: FunctionRuntime
    schedule: Schedule
    period: float

    @property
    def name(self) -> str:
        return f"{self.runtime.name}.{self.schedule.event_name}"


def plan(
    schedules: list[tuple[Schedule, FunctionRuntime]], overrides: Mapping[str, float] | None = None
) -> list[PlannedSchedule]:
    """The schedules that run locally (enabled, rate-based), with their periods."""
    overrides = overrides or {}
    planned: list[PlannedSchedule] = []
    for schedule, runtime in schedules:
        if not schedule.enabled:
            continue
        period = rate_seconds(schedule.expression)
        if period is None:
            log.warning(
                "schedule %s (%s) is not a rate(...): not run locally",
                schedule.event_name,
                schedule.expression,
            )
            continue
        action = schedule.input.get("action") if isinstance(schedule.input, dict) else None
        for key in (schedule.event_name, action, "*"):
            if key is not None and key in overrides:
                period = overrides[key]
                break
        planned.append(PlannedSchedule(runtime, schedule, period))
    return planned


def with_context_attributes(value: Any, schedule_name: str, now: datetime | None = None) -> Any:
    """The Input with EventBridge Scheduler's context placeholders filled in, as the real one does."""
    stamp = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    values = {
        "<aws.scheduler.scheduled-time>": stamp,
        "<aws.scheduler.execution-id>": str(uuid.uuid4()),
        "<aws.scheduler.attempt-number>": "1",
        "<aws.scheduler.schedule-arn>": f"arn:aws:scheduler:us-east-1:123456789012:schedule/default/{schedule_name}",
    }
    if value is None:
        return {}
    if isinstance(value, str):
        for key, replacement in values.items():
            value = value.replace(key, replacement)
        return value
    if isinstance(value, dict):
        return {k: with_context_attributes(v, schedule_name, now) for k, v in value.items()}
    if isinstance(value, list):
        return [with_context_attributes(v, schedule_name, now) for v in value]
    return value


class Scheduler:
    """One thread per schedule; a firing never overlaps the previous one of the same schedule."""

    def __init__(self, planned: list[PlannedSchedule]) -> None:
        self.planned = planned
        self.fired: dict[str, int] = {p.name: 0 for p in planned}
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for item in self.planned:
            thread = threading.Thread(
                target=self._run, args=(item,), name=f"schedule-{item.name}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def _run(self, item: PlannedSchedule) -> None:
        # Like EventBridge Scheduler, the first firing comes one period after the schedule starts.
        while not self._stop.wait(item.period):
            self.fire(item)

    def fire(self, item: PlannedSchedule) -> None:
        try:
            item.runtime.invoke(with_context_attributes(item.schedule.input, item.name))
        except Exception:
            log.exception("schedule %s: the function raised", item.name)
        finally:
            self.fired[item.name] = self.fired.get(item.name, 0) + 1

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=timeout)
