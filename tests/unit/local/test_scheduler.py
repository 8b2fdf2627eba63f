from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from testgenie_local.runtime import FunctionRuntime
from testgenie_local.scheduler import Scheduler, parse_overrides, plan, rate_seconds
from testgenie_local.template import FunctionSpec, Template


def _wait_for(predicate: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


def test_rate_expressions() -> None:
    assert rate_seconds("rate(1 minute)") == 60
    assert rate_seconds("rate(5 minutes)") == 300
    assert rate_seconds("rate(2 hours)") == 7200
    assert rate_seconds("rate(1 day)") == 86400
    assert rate_seconds("cron(0 3 * * ? *)") is None
    assert rate_seconds("rate(0 minutes)") is None


def test_overrides() -> None:
    assert parse_overrides("reap=1, Nightly=2.5") == {"reap": 1.0, "Nightly": 2.5}
    assert parse_overrides(None) == {}
    with pytest.raises(ValueError, match="NAME=SECONDS"):
        parse_overrides("reap")
    with pytest.raises(ValueError, match="NAME=SECONDS"):
        parse_overrides("reap=0")


def test_plan_keeps_enabled_rate_schedules_only(template: Template) -> None:
    spec = template.functions["WorkFunction"]
    runtime = FunctionRuntime(spec, lambda e, c: None)
    planned = plan([(s, runtime) for s in spec.schedules])
    assert [(p.schedule.event_name, p.period) for p in planned] == [("Reap", 60.0)]
    by_action = plan([(s, runtime) for s in spec.schedules], {"reap": 0.5})
    assert by_action[0].period == 0.5
    by_name = plan([(s, runtime) for s in spec.schedules], {"Reap": 2})
    assert by_name[0].period == 2


def test_scheduler_fires_input_to_the_function_and_stops(template: Template) -> None:
    received: list[Any] = []
    spec = template.functions["WorkFunction"]
    runtime = FunctionRuntime(spec, lambda event, context: received.append(event))
    scheduler = Scheduler(plan([(s, runtime) for s in spec.schedules], {"*": 0.05}))
    scheduler.start()
    try:
        _wait_for(lambda: len(received) >= 2)
    finally:
        scheduler.stop()
    assert all(event == {"action": "reap"} for event in received)
    assert all(not t.is_alive() for t in scheduler._threads)  # stop() returned after every thread ended
    assert len(received) == sum(scheduler.fired.values())  # each firing reached the function once


def test_stop_ends_a_schedule_waiting_out_its_period(template: Template) -> None:
    """A schedule of one hour is stopped at once, without firing (its wait is the stop event's)."""
    received: list[Any] = []
    spec = template.functions["WorkFunction"]
    runtime = FunctionRuntime(spec, lambda event, context: received.append(event))
    scheduler = Scheduler(plan([(s, runtime) for s in spec.schedules], {"*": 3600}))
    scheduler.start()
    scheduler.stop(timeout=30)
    assert [t.is_alive() for t in scheduler._threads] == [False]
    assert received == []


def test_a_raising_function_does_not_stop_the_schedule() -> None:
    calls: list[int] = []

    def boom(event: Any, context: Any) -> None:
        calls.append(1)
        raise RuntimeError("nope")

    from testgenie_local.template import Schedule

    runtime = FunctionRuntime(FunctionSpec("F", Path("."), "m.h", 3, {}), boom)
    scheduler = Scheduler(plan([(Schedule("S", "rate(1 minute)", None), runtime)], {"S": 0.02}))
    scheduler.start()
    try:
        _wait_for(lambda: len(calls) >= 3)
    finally:
        scheduler.stop()


def test_context_placeholders_are_filled_in() -> None:
    from datetime import UTC, datetime

    from testgenie_local.scheduler import with_context_attributes

    filled = with_context_attributes(
        {
            "action": "reap",
            "scheduledTime": "<aws.scheduler.scheduled-time>",
            "n": [1, "<aws.scheduler.attempt-number>"],
        },
        "Fn.Reap",
        now=datetime(2024, 5, 1, 2, 3, 4, tzinfo=UTC),
    )
    assert filled == {"action": "reap", "scheduledTime": "2024-05-01T02:03:04Z", "n": [1, "1"]}
    assert with_context_attributes(None, "x") == {}
