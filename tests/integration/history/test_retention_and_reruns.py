"""Retention (pins, batches, logs, summaries) and reruns on a real PostgreSQL."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import pytest
from testgenie.artifacts import LocalArtifactStore
from testgenie.db import Connection, Database
from testgenie.errors import NotFoundError, ValidationError
from testgenie.execution.repository import SuiteExecutionRepository
from testgenie.execution.reruns import RerunService
from testgenie.execution.retention import RetentionService
from testgenie.history.repository import HistoryRepository
from testgenie.history.service import ExecutionHistoryService
from testgenie.orchestrator.models import PhaseResult
from testgenie.orchestrator.sources.local import LocalScenarioSource
from testgenie.records import SuiteExecutionRecord, Trigger
from testgenie.shards.repository import TestTimingRepository
from testgenie_local.polling import wait_for

from tests.support.fakes import MemoryArtifactStore
from tests.support.orchestrator import in_process_engine
from tests.support.records import run_record
from tests.support.services import suite_requests
from tests.support.threads import join_all

NOW = datetime(2026, 9, 1, tzinfo=UTC)


def _with_logs(record: SuiteExecutionRecord, store: LocalArtifactStore) -> SuiteExecutionRecord:
    phases = [
        PhaseResult.model_validate(
            {**p.model_dump(), "log_path": store.put_log(record.id, p.name, f"log of {p.name}".encode())}
        )
        for p in record.phases
    ]
    return record.model_copy(update={"phases": phases})


def _store(db: Database, records: list[SuiteExecutionRecord]) -> None:
    def work(conn: Connection) -> None:
        for record in records:
            SuiteExecutionRepository().create(conn, record)

    db.run(work)


def _ids(db: Database) -> set[str]:
    rows = db.run(lambda conn: conn.execute("SELECT id FROM suite_executions").fetchall())
    return {str(row["id"]) for row in rows}


def test_retention_deletes_only_expired_unpinned_runs_while_runs_are_recorded(
    db: Database, database_url: str, tmp_path: Path
) -> None:
    store = LocalArtifactStore(tmp_path)
    old = [
        _with_logs(run_record(f"s{i % 3}", NOW - timedelta(days=40, minutes=i), {"unit": "passed"}), store)
        for i in range(45)
    ]
    only_old = _with_logs(run_record("gone", NOW - timedelta(days=50), {"unit": "failed"}), store)
    recent = [
        run_record(f"s{i % 3}", NOW - timedelta(days=2, minutes=i), {"unit": "passed"}) for i in range(6)
    ]
    _store(db, [*old, only_old, *recent])
    pinned = old[::10]
    retention = RetentionService(
        db, SuiteExecutionRepository(), store, 30, timings=TestTimingRepository(), batch=7, max_batches=100
    )
    for record in pinned:
        assert retention.pin(record.id, True) == {"executionId": str(record.id), "pinned": True}

    stop, recorded = threading.Event(), [0]

    def record_runs() -> None:
        writer = Database(database_url)
        while not stop.is_set():
            run = run_record("s1", NOW + timedelta(seconds=recorded[0]), {"unit": "passed"})
            writer.run(partial(SuiteExecutionRepository().create, record=run))
            recorded[0] += 1
        writer.close()

    thread = threading.Thread(target=record_runs)
    thread.start()
    try:
        wait_for(lambda: recorded[0] > 0, 30, "a run recorded")
        report = retention.prune(now=NOW)
    finally:
        stop.set()
        join_all([thread])

    expired = [r for r in [*old, only_old] if r not in pinned]
    assert report.deleted == len(expired)
    assert report.batches >= len(expired) // 7
    remaining = _ids(db)
    assert not remaining & {str(r.id) for r in expired}
    assert {str(r.id) for r in [*pinned, *recent]} <= remaining
    assert len(remaining) == len(pinned) + len(recent) + recorded[0]  # every concurrent run kept
    orphans = db.run(
        lambda conn: conn.execute(
            "SELECT count(*) AS n FROM suite_execution_phases p WHERE NOT EXISTS "
            "(SELECT 1 FROM suite_executions e WHERE e.id = p.execution_id)"
        ).fetchone()
    )
    assert orphans == {"n": 0}
    assert all(store.read_log(r.id, "unit", 100) is None for r in expired)
    assert all(store.read_log(r.id, "unit", 100) == "log of unit" for r in pinned)
    # The summaries equal a rebuild from the rows that are left; a scenario with no run left is gone.
    history = ExecutionHistoryService(db, HistoryRepository())
    after = json.loads(history.scenarios())
    for scenario in ("s0", "s1", "s2", "gone"):
        db.run(partial(SuiteExecutionRepository().rebuild_summary, scenario=scenario))
    assert json.loads(history.scenarios()) == after
    assert "gone" not in {item["scenarioName"] for item in after["items"]}
    assert retention.prune(now=NOW).deleted == 0  # safe to run twice


def test_retention_off_deletes_nothing_and_unpin_lets_it_go(db: Database, tmp_path: Path) -> None:
    record = run_record("s", NOW - timedelta(days=400), {"unit": "passed"})
    _store(db, [record])
    assert (
        RetentionService(db, SuiteExecutionRepository(), None, 0, timings=TestTimingRepository())
        .prune(now=NOW)
        .deleted
        == 0
    )
    retention = RetentionService(db, SuiteExecutionRepository(), None, 30, timings=TestTimingRepository())
    retention.pin(record.id, True)
    assert retention.prune(now=NOW).deleted == 0
    assert retention.pin(record.id, False)["pinned"] is False
    assert retention.prune(now=NOW).deleted == 1
    with pytest.raises(NotFoundError):
        retention.pin(record.id, True)


def test_rerun_queues_the_same_plan_or_only_the_failed_phases(db: Database) -> None:
    record = run_record("web", NOW, {"lint": "passed", "unit": "failed", "docs": "failed"})
    record = record.model_copy(update={"requested": {"preset": "smoke", "skip": ["docs"], "failFast": True}})
    _store(db, [record])
    service = RerunService(db, suite_requests(db), SuiteExecutionRepository())

    same = service.rerun(record.id)
    failed = service.rerun(record.id, failed_only=True)

    assert (same.trigger, same.rerun_of, same.scenario_name) == (Trigger.RERUN, record.id, "web")
    assert (same.preset, same.phases, same.skip, same.fail_fast) == ("smoke", None, ["docs"], True)
    assert (failed.phases, failed.skip, failed.rerun_of) == (["unit", "docs"], None, record.id)
    assert suite_requests(db).get(failed.id).to_json_dict()["rerunOf"] == str(record.id)


def test_rerun_errors(db: Database) -> None:
    passed = run_record("web", NOW, {"unit": "passed"})
    _store(db, [passed])
    service = RerunService(db, suite_requests(db), SuiteExecutionRepository())
    with pytest.raises(ValidationError, match="no failed phases"):
        service.rerun(passed.id, failed_only=True)
    with pytest.raises(NotFoundError, match="execution not found"):
        service.rerun(run_record("x", NOW, {}).id)


def test_a_rerun_of_a_scenario_the_source_no_longer_holds_says_so(db: Database, tmp_path: Path) -> None:
    # E.g. a local stack restarted with `--scenarios my-scenarios`: hello-python's runs stay in history.
    (tmp_path / "my-scenario" / ".testgenie").mkdir(parents=True)
    (tmp_path / "my-scenario" / ".testgenie" / "testing.json").write_text("{}")
    source = LocalScenarioSource(tmp_path)
    old = run_record("hello-python", NOW, {"unit": "passed"})
    _store(db, [old])
    queue = suite_requests(db, engine=in_process_engine(source, MemoryArtifactStore()))  # plans from `source`

    with pytest.raises(ValidationError) as refused:
        RerunService(db, queue, SuiteExecutionRepository()).rerun(old.id)

    assert refused.value.message == (
        f"execution {old.id} ran scenario 'hello-python', which the service no longer has "
        "(scenario 'hello-python' was not found): push that scenario again, or serve a scenarios "
        "folder that holds it"
    )
    queued = db.run(lambda conn: conn.execute("SELECT count(*) AS n FROM suite_requests").fetchone())
    assert queued == {"n": 0}  # refused before anything was queued
