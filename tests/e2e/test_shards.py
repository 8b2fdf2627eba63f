"""A phase as shards, end to end over real HTTP against `testgenie serve`: a real third-party suite
split four ways equals bare pytest, a failing test fails the phase without losing the other shards,
a shard whose runner is SIGKILLed runs once more and counts once."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from testgenie_local.polling import wait_for
from testgenie_local.runner_venv import ensure_runner_venv

from tests.support.paths import REPO_ROOT
from tests.support.stack import TERMINAL, RunningStack, start_stack

pytestmark = pytest.mark.e2e

THIRD_PARTY = REPO_ROOT / "tests" / "e2e" / "scenarios" / "more-itertools"
TESTS_PER_FILE = 5


def _failing_suite(folder: Path) -> None:
    """20 tests in 4 files; exactly one fails."""
    (folder / "tests").mkdir(parents=True)
    (folder / ".testgenie").mkdir()
    (folder / ".testgenie" / "testing.json").write_text("{}")
    for file in range(4):
        body = "".join(
            f"def test_{file}_{n}():\n    assert {'1 == 2' if (file, n) == (2, 3) else 'True'}\n\n"
            for n in range(TESTS_PER_FILE)
        )
        (folder / "tests" / f"test_part{file}.py").write_text(body)


def _slow_commands(folder: Path) -> None:
    """Every shard names its part in a JUnit report after 30 s: the test must find shard 1's runner
    and kill it while its command still runs. The sandbox offers no way to hold the first attempt on
    an event (no shared file, no network), so the margin is wide: seconds of polling /proc suffice."""
    (folder / ".testgenie").mkdir(parents=True)
    command = (
        'sleep 30; printf \'<testsuite><testcase classname="shard" name="part-%s" time="30"/></testsuite>\' '
        '"$TESTGENIE_SHARD_INDEX" > "$TESTGENIE_REPORTS_DIR/part.xml"'
    )
    testing = {"phases": {"unit": {"timeout": "2m", "shards": 3, "commands": [command]}}}
    (folder / ".testgenie" / "testing.json").write_text(json.dumps(testing))


CANCEL_MARK = "shard-cancel-e2e"


def _long_shards(folder: Path) -> None:
    """Three shards that each wait two minutes: a cancel must stop all of them."""
    (folder / ".testgenie").mkdir(parents=True)
    unit = {"timeout": "5m", "shards": 3, "env": {"SHARD_MARK": CANCEL_MARK}, "commands": ["sleep 120"]}
    (folder / ".testgenie" / "testing.json").write_text(json.dumps({"phases": {"unit": unit}}))


@pytest.fixture(scope="module")
def shard_stack(
    tmp_path_factory: pytest.TempPathFactory, fresh_database: Callable[[], str]
) -> Iterator[RunningStack]:
    root = tmp_path_factory.mktemp("shards")
    scenarios = root / "scenarios"
    shutil.copytree(THIRD_PARTY, scenarios / "more-itertools", ignore=shutil.ignore_patterns("__pycache__"))
    _failing_suite(scenarios / "shard-fail")
    _slow_commands(scenarios / "shard-kill")
    _long_shards(scenarios / "shard-cancel")
    stack = start_stack(root / "work", scenarios, fresh_database())
    yield stack
    assert stack.stop() == 0, stack.tail()


def _run(stack: RunningStack, **body: Any) -> dict[str, Any]:
    request = stack.queue(**body)
    final = stack.wait_status(request["id"], TERMINAL, timeout=280)
    assert final["executionId"], final
    execution: dict[str, Any] = stack.get(f"/executions/{final['executionId']}")
    return execution


def _unit(execution: dict[str, Any]) -> dict[str, Any]:
    phase: dict[str, Any] = next(p for p in execution["phases"] if p["name"] == "unit")
    return phase


def _bare_pytest(folder: Path, tmp: Path) -> tuple[dict[str, int], set[str]]:
    """Counts and JUnit test ids of bare `python -m pytest` with the runner's interpreter."""
    copy = tmp / "bare"
    shutil.copytree(folder, copy, ignore=shutil.ignore_patterns("__pycache__"))
    report = tmp / "bare.xml"
    subprocess.run(
        [str(ensure_runner_venv()), "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={report}"],
        cwd=copy,
        capture_output=True,
        timeout=240,
        check=False,
    )
    cases = list(ET.parse(report).getroot().iter("testcase"))  # noqa: S314 - our own pytest wrote it
    ids = {f"{c.get('classname')}::{c.get('name')}" for c in cases}
    skipped = sum(1 for c in cases if c.find("skipped") is not None)
    return {"total": len(cases), "skipped": skipped}, ids


def _timed_tests(stack: RunningStack, scenario: str) -> set[str]:
    assert stack.database_url is not None
    with psycopg.connect(stack.database_url) as conn:
        rows = conn.execute(
            "SELECT test_id FROM test_timings WHERE scenario_name = %s AND phase = 'unit'", (scenario,)
        ).fetchall()
    return {row[0] for row in rows}


def test_four_shards_of_a_third_party_suite_run_what_bare_pytest_runs(
    shard_stack: RunningStack, tmp_path: Path
) -> None:
    execution = _run(shard_stack, scenarioName="more-itertools", phases=["unit"], shards=4)
    unit = _unit(execution)
    bare, bare_ids = _bare_pytest(THIRD_PARTY, tmp_path)

    assert execution["outcome"] == "passed", unit
    assert [s["index"] for s in unit["shards"]] == [0, 1, 2, 3]
    assert {s["status"] for s in unit["shards"]} == {"passed"}
    assert unit["tests"]["total"] == bare["total"]
    assert unit["tests"]["skipped"] == bare["skipped"]
    assert sum(s["tests"] for s in unit["shards"]) == bare["total"]
    # Every test bare pytest ran ran in some shard (their timings are recorded); with the totals
    # equal, none ran twice.
    assert _timed_tests(shard_stack, "more-itertools") == bare_ids
    assert len(bare_ids) == bare["total"]
    for shard in unit["shards"]:
        assert shard["logPath"].endswith(f"/unit.shard-{shard['index']}.log")
    log = shard_stack.call("GET", f"/executions/{execution['executionId']}/phases/unit/log")
    assert log.status == 200
    assert b"ran as shards" in log.body
    one = shard_stack.call("GET", f"/executions/{execution['executionId']}/phases/unit/log?shard=1")
    assert one.status == 200
    assert b"[unit] shard 1 of 4:" in one.body
    missing = shard_stack.call("GET", f"/executions/{execution['executionId']}/phases/unit/log?shard=7")
    assert missing.status == 404
    assert "has no log of shard 7" in missing.json()["error"]
    assert (
        shard_stack.call("GET", f"/executions/{execution['executionId']}/phases/unit/log?shard=-1").status
        == 400
    )


def test_a_failing_test_in_one_shard_fails_the_phase_and_keeps_the_others(shard_stack: RunningStack) -> None:
    execution = _run(shard_stack, scenarioName="shard-fail", phases=["unit"], shards=4)
    unit = _unit(execution)

    assert execution["outcome"] == "failed"
    assert unit["status"] == "failed"
    assert [t["name"] for t in unit["failingTests"]] == ["tests.test_part2::test_2_3"]
    assert "tests.test_part2::test_2_3" in unit["error"]
    assert unit["tests"]["total"] == 4 * TESTS_PER_FILE
    assert unit["tests"]["passed"] == 4 * TESTS_PER_FILE - 1
    statuses = sorted(s["status"] for s in unit["shards"])
    assert statuses == ["failed", "passed", "passed", "passed"]
    assert all(s["attempts"] == 1 for s in unit["shards"])  # failing tests are not retried


def _runner_of_shard(index: int) -> int | None:
    """The runner process running shard `index`'s command (the parent of the command's shell)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
            status = (entry / "status").read_text()
        except OSError:
            continue
        if f"TESTGENIE_SHARD_INDEX={index}".encode() in environ and b"TESTGENIE_PHASE=unit" in environ:
            ppid = int(next(line for line in status.splitlines() if line.startswith("PPid:")).split()[1])
            return ppid if ppid > 1 else None
    return None


@pytest.mark.skipif(os.geteuid() != 0, reason="reading another user's /proc/<pid>/environ needs root")
def test_a_shard_whose_runner_is_killed_runs_once_more_and_counts_once(shard_stack: RunningStack) -> None:
    request = shard_stack.queue(scenarioName="shard-kill", phases=["unit"])
    runner = wait_for(lambda: _runner_of_shard(1), 120, "shard 1's runner to start")
    os.kill(runner, signal.SIGKILL)
    final = shard_stack.wait_status(request["id"], TERMINAL, timeout=280)
    execution = shard_stack.get(f"/executions/{final['executionId']}")
    unit = _unit(execution)

    assert execution["outcome"] == "passed", unit
    shards = {s["index"]: s for s in unit["shards"]}
    assert shards[1]["attempts"] == 2
    assert shards[1]["status"] == "passed"
    assert shards[0]["attempts"] == shards[2]["attempts"] == 1
    assert unit["tests"]["total"] == 3  # one report per shard: the killed attempt counts nothing
    assert _timed_tests(shard_stack, "shard-kill") == {"shard::part-0", "shard::part-1", "shard::part-2"}


def _marked_shards() -> set[int]:
    """Shard indexes of the processes the cancel scenario's shards are running."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if f"SHARD_MARK={CANCEL_MARK}".encode() in environ:
            index = next(v for v in environ if v.startswith(b"TESTGENIE_SHARD_INDEX="))
            found.add(int(index.split(b"=", 1)[1]))
    return found


@pytest.mark.skipif(os.geteuid() != 0, reason="reading another user's /proc/<pid>/environ needs root")
def test_a_cancel_mid_phase_stops_every_shard(shard_stack: RunningStack) -> None:
    request = shard_stack.queue(scenarioName="shard-cancel", phases=["unit"])
    wait_for(lambda: _marked_shards() == {0, 1, 2}, 120, "the three shards to be running")
    answer = shard_stack.call("POST", f"/suite-requests/{request['id']}/cancel")
    assert answer.status == 200, answer.body
    final = shard_stack.wait_status(request["id"], {"cancelled"}, timeout=60)
    assert final["status"] == "cancelled"
    wait_for(lambda: not _marked_shards(), 30, "every shard's processes to be gone")
