"""Domain models: exact JSON keys (DESIGN §2), summarize_phases, record conversion."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

from testgenie.orchestrator.models import (
    Observation,
    Outcome,
    PhaseResult,
    PhaseStatus,
    SuiteExecutionResult,
    TestCounts,
    summarize_phases,
)
from testgenie.queue.models import estimate_queue_time
from testgenie.records import SuiteExecutionRecord


def test_summarize_phases_counts_each_status_and_ignores_negative_durations() -> None:
    phases = [
        PhaseResult(
            name="a", status=PhaseStatus.PASSED, duration_seconds=2, observations=[Observation(text="x")]
        ),
        PhaseResult(name="b", status=PhaseStatus.FAILED, duration_seconds=3),
        PhaseResult(name="c", status=PhaseStatus.SKIPPED, duration_seconds=-4),
    ]

    summary = summarize_phases(phases).to_json_dict()

    assert summary == {
        "total": 3,
        "passed": 1,
        "failed": 1,
        "skipped": 1,
        "durationSeconds": 5,
        "observationCount": 1,
    }
    assert summarize_phases(None).total == 0


def test_phase_result_json_keys_are_the_contract() -> None:
    phase = PhaseResult(
        name="unit",
        status=PhaseStatus.FAILED,
        duration_seconds=2,
        duration_ms=1500,
        log_path="executions/x/unit.log",
        error="1 test failed",
        classification="test_failure",
        remediation="Fix the failing tests.",
        observations=[Observation(prefix="ERROR", icon="❌", text="test_x failed")],
        tests=TestCounts(total=3, passed=2, failed=1),
    )

    assert phase.to_json_dict() == {
        "name": "unit",
        "status": "failed",
        "durationSeconds": 2,
        "durationMs": 1500,
        "logPath": "executions/x/unit.log",
        "error": "1 test failed",
        "classification": "test_failure",
        "remediation": "Fix the failing tests.",
        "observations": [{"prefix": "ERROR", "icon": "❌", "text": "test_x failed"}],
        "tests": {"total": 3, "passed": 2, "failed": 1, "errored": 0, "skipped": 0},
    }


def test_seconds_from_ms_is_the_seed_ceil() -> None:
    assert [PhaseResult.seconds_from_ms(ms) for ms in (0, 1, 999, 1000, 1001)] == [0, 1, 1, 1, 2]


def test_result_keys_and_record_round_trip() -> None:
    now = datetime(2026, 1, 9, 10, 15, tzinfo=UTC)
    result = SuiteExecutionResult(
        execution_id=uuid4(),
        scenario_name="demo",
        started_at=now,
        completed_at=now,
        success=True,
        preset="quick",
        outcome=Outcome.PASSED,
        phases=[PhaseResult(name="structure", status=PhaseStatus.PASSED, duration_seconds=1)],
        warnings=["w"],
    )

    body = SuiteExecutionRecord.from_result(result).to_execution_result().to_json_dict()

    assert set(body) == {
        "executionId",
        "scenarioName",
        "startedAt",
        "completedAt",
        "success",
        "preset",
        "outcome",
        "phases",
        "phaseSummary",
        "warnings",
    }
    assert body["phaseSummary"]["passed"] == 1
    assert body["phases"] == [
        {"name": "structure", "status": "passed", "durationSeconds": 1, "durationMs": 0, "logPath": ""}
    ]


def test_empty_phases_serialise_as_an_empty_list_not_null() -> None:
    now = datetime.now(UTC)
    record = SuiteExecutionRecord(
        id=uuid4(),
        scenario_name="d",
        success=False,
        started_at=now,
        completed_at=now,
        outcome=Outcome.ERRORED,
    )
    assert record.to_execution_result().to_json_dict()["phases"] == []


def test_estimated_queue_time_is_the_seed_formula() -> None:
    assert estimate_queue_time(2, 95) == 155
    assert estimate_queue_time(0, 0) == 155
    assert estimate_queue_time(3, 50) == 140


def test_no_stored_execution_exceeds_one_megabyte() -> None:
    from datetime import UTC, datetime
    from uuid import uuid4

    from testgenie.orchestrator.models import (
        Observation,
        Outcome,
        PhaseResult,
        PhaseStatus,
        SuiteExecutionResult,
        summarize_phases,
    )
    from testgenie.records import MAX_RECORD_BYTES, SuiteExecutionRecord

    noisy = [
        PhaseResult(
            name=f"phase{n}",
            status=PhaseStatus.FAILED,
            error="e" * 100_000,
            observations=[Observation(text="o" * 5_000) for _ in range(1_000)],
        )
        for n in range(12)
    ]
    now = datetime.now(UTC)
    result = SuiteExecutionResult(
        execution_id=uuid4(),
        scenario_name="demo",
        started_at=now,
        completed_at=now,
        success=False,
        outcome=Outcome.FAILED,
        phases=noisy,
        phase_summary=summarize_phases(noisy),
        warnings=[f"phase 'p{n}' was requested more than once" for n in range(199_999)],
    )

    record = SuiteExecutionRecord.from_result(result)

    assert len(record.model_dump_json()) <= MAX_RECORD_BYTES
    assert record.warnings is not None
    assert len(record.warnings) == 50
    assert [p.name for p in record.phases] == [p.name for p in noisy]  # every phase still there
    assert all(p.status is PhaseStatus.FAILED for p in record.phases)
