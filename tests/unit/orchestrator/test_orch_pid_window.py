"""The sweep's pid window: it holds every process created since it was taken, and gives way to a
scan of every process whenever the kernel's counters cannot prove that."""

from __future__ import annotations

import dataclasses
import subprocess
from collections.abc import Iterator

import pytest
from testgenie.orchestrator.phases import containment
from testgenie.orchestrator.phases.containment import (
    TOKEN_ENV,
    created_since,
    on_arc,
    pid_window,
    sweep,
)


@pytest.fixture
def sleepers() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        proc.kill()
        proc.wait(timeout=30)


def _sleep(env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen(["sleep", "300"], env={"PATH": "/usr/bin:/bin", **(env or {})})


def test_a_process_created_after_the_window_is_in_it_and_an_older_one_is_not(
    sleepers: list[subprocess.Popen[bytes]],
) -> None:
    sleepers.append(_sleep())
    window = pid_window()
    assert window is not None, "Linux /proc of this pid namespace"
    sleepers.append(_sleep())
    found = created_since(window)
    assert found is not None
    assert sleepers[1].pid in found
    assert sleepers[0].pid not in found


@pytest.mark.parametrize(
    ("pid", "low", "high", "inside"),
    [
        (101, 100, 200, True),
        (200, 100, 200, True),
        (100, 100, 200, False),  # the last pid handed out before the window
        (50, 100, 200, False),
        (201, 100, 200, False),
        (32000, 31000, 400, True),  # the counter wrapped: after 31000, then from the bottom up to 400
        (350, 31000, 400, True),
        (401, 31000, 400, False),
        (30999, 31000, 400, False),
    ],
)
def test_the_arc_follows_the_counter_around_its_wrap(pid: int, low: int, high: int, inside: bool) -> None:
    assert on_arc(pid, low, high) is inside


def test_a_counter_that_may_have_gone_round_gives_no_window() -> None:
    window = pid_window()
    assert window is not None
    turn = containment._pid_max() - containment._RESERVED_PIDS
    assert created_since(dataclasses.replace(window, forks=window.forks - turn)) is None
    assert created_since(None) is None


def test_without_a_provable_window_the_sweep_looks_at_every_process(
    sleepers: list[subprocess.Popen[bytes]],
) -> None:
    # A token carrier older than the window: only the scan of every process finds it.
    token = containment.new_token()
    sleepers.append(_sleep({TOKEN_ENV: token}))
    window = pid_window()
    assert window is not None
    turn = containment._pid_max() - containment._RESERVED_PIDS
    assert sweep(token, since=dataclasses.replace(window, forks=window.forks - turn)) == 1
    sleepers[0].wait(timeout=30)
    assert sleepers[0].returncode == -9
