"""GET /executions filters and keyset cursors on a real PostgreSQL, against a reference filter in Python."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from testgenie.db import Connection, Database
from testgenie.errors import ValidationError
from testgenie.execution.repository import SuiteExecutionRepository
from testgenie.history.filters import EXECUTIONS_CURSOR, ExecutionFilter
from testgenie.history.repository import HistoryRepository
from testgenie.history.service import ExecutionHistoryService
from testgenie.orchestrator.models import Outcome
from testgenie.paging import Keyset, parse_keyset
from testgenie.records import SuiteExecutionRecord, Trigger

from tests.support.records import run_record

BASE = datetime(2026, 3, 1, tzinfo=UTC)
PHASES = ("structure", "unit", "docs")


def _store(db: Database, records: list[SuiteExecutionRecord]) -> None:
    def work(conn: Connection) -> None:
        for record in records:
            SuiteExecutionRepository().create(conn, record)

    db.run(work)


def _history(seed: int, count: int) -> list[SuiteExecutionRecord]:
    rng = random.Random(seed)
    records = []
    for i in range(count):
        statuses = {phase: rng.choice(["passed", "passed", "failed", "skipped"]) for phase in PHASES}
        outcome = rng.choice([None, None, None, Outcome.ERRORED, Outcome.TIMEOUT, Outcome.CANCELLED])
        records.append(
            run_record(
                rng.choice(["alpha", "beta", "gamma"]),
                BASE + timedelta(minutes=i // 2),  # pairs share a time: the id breaks the tie
                statuses,
                trigger=rng.choice(list(Trigger)),
                preset=rng.choice(["quick", "smoke", None]),
                outcome=outcome,
            )
        )
    return records


def _matches(record: SuiteExecutionRecord, query: ExecutionFilter) -> bool:
    phases = {phase.name: phase.status.value for phase in record.phases}
    return all(
        [
            query.scenario is None or record.scenario_name == query.scenario,
            not query.outcomes or record.outcome.value in query.outcomes,
            query.trigger is None or record.trigger.value == query.trigger,
            query.preset is None or record.preset == query.preset,
            query.since is None or record.completed_at >= query.since,
            query.until is None or record.completed_at <= query.until,
            query.phase is None or query.phase in phases,
            not query.phase_statuses or phases.get(query.phase or "") in query.phase_statuses,
        ]
    )


def _newest_first(records: list[SuiteExecutionRecord]) -> list[str]:
    return [str(r.id) for r in sorted(records, key=lambda r: (r.completed_at, r.id), reverse=True)]


def _all_pages(history: ExecutionHistoryService, query: ExecutionFilter, limit: int) -> list[str]:
    seen: list[str] = []
    cursor: str | None = None
    while True:
        page: dict[str, Any] = json.loads(
            history.list(query, parse_keyset(EXECUTIONS_CURSOR, limit, 0, cursor))
        )
        seen.extend(item["executionId"] for item in page["items"])
        cursor = page["nextCursor"]
        if cursor is None:
            return seen


FILTERS = [
    ExecutionFilter(),
    ExecutionFilter(scenario="beta"),
    ExecutionFilter(outcomes=("failed",)),
    ExecutionFilter(outcomes=("errored", "timeout", "cancelled")),
    ExecutionFilter(scenario="alpha", outcomes=("passed", "failed")),
    ExecutionFilter(trigger="schedule"),
    ExecutionFilter(preset="smoke", trigger="api"),
    ExecutionFilter(since=BASE + timedelta(minutes=20), until=BASE + timedelta(minutes=40)),
    ExecutionFilter(phase="unit", phase_statuses=("failed",)),
    ExecutionFilter(phase="docs"),
    ExecutionFilter(scenario="gamma", phase="unit", phase_statuses=("passed", "skipped")),
    ExecutionFilter(
        phase="unit", phase_statuses=("failed",), outcomes=("failed",), since=BASE + timedelta(minutes=10)
    ),
    ExecutionFilter(scenario="nobody"),
]


@pytest.mark.parametrize("query", FILTERS, ids=lambda q: repr(q)[15:80])
def test_every_filter_pages_to_exactly_the_matching_runs(db: Database, query: ExecutionFilter) -> None:
    records = _history(seed=12, count=120)
    _store(db, records)
    history = ExecutionHistoryService(db, HistoryRepository())
    expected = _newest_first([r for r in records if _matches(r, query)])

    assert _all_pages(history, query, limit=7) == expected
    assert json.loads(history.list(query, Keyset(limit=5), include_total=True))["total"] == len(expected)
    by_offset = json.loads(history.list(query, Keyset(limit=5, offset=5)))
    assert [item["executionId"] for item in by_offset["items"]] == expected[5:10]


def test_total_is_absent_unless_asked(db: Database) -> None:
    _store(db, _history(seed=1, count=3))
    assert "total" not in json.loads(ExecutionHistoryService(db, HistoryRepository()).list())


def test_cursor_pages_neither_repeat_nor_skip_while_runs_are_recorded(
    db: Database, database_url: str
) -> None:
    # The interleaving is forced, not raced: between every two pages another connection commits
    # three runs — one newer than every page (already passed), one older than every page (still
    # ahead, so it must be listed) and one at the last listed run's own time (listed exactly when
    # its id sorts after the cursor's). Each page takes 4 rows and adds at most 2 ahead of the
    # cursor, so the walk ends after a bounded number of pages on any machine.
    before = _history(seed=5, count=90)
    _store(db, before)
    writer_db = Database(database_url)
    history = ExecutionHistoryService(db, HistoryRepository())
    must_see: set[str] = {str(r.id) for r in before}
    must_not_see: set[str] = set()
    seen: list[str] = []
    cursor: str | None = None
    try:
        for page_number in range(200):
            keyset = Keyset(limit=4) if page_number == 0 else parse_keyset(EXECUTIONS_CURSOR, 4, 0, cursor)
            page = json.loads(history.list(ExecutionFilter(), keyset))
            seen.extend(item["executionId"] for item in page["items"])
            cursor = page["nextCursor"]
            if cursor is None:
                break
            last = page["items"][-1]
            last_at = datetime.fromisoformat(last["completedAt"].replace("Z", "+00:00"))
            newer = run_record("alpha", BASE + timedelta(days=1, seconds=page_number), {"unit": "passed"})
            older = run_record("alpha", BASE - timedelta(seconds=page_number + 1), {"unit": "passed"})
            tie = run_record("beta", last_at, {"unit": "failed"})
            _store(writer_db, [newer, older, tie])
            must_not_see.add(str(newer.id))
            must_see.add(str(older.id))
            # newest first, the id breaking ties: a tie is still ahead when its id sorts below
            (must_see if str(tie.id) < last["executionId"] else must_not_see).add(str(tie.id))
        else:
            pytest.fail("the pages never ended: runs recorded meanwhile kept the cursor from advancing")
    finally:
        writer_db.close()

    assert len(seen) == len(set(seen))  # nothing repeated
    assert must_see <= set(seen)  # nothing that existed ahead of the cursor was skipped
    assert not must_not_see & set(seen)  # what was recorded behind the cursor is not listed late
    assert len(must_not_see) > 10  # the walk really did interleave with recording


@pytest.mark.parametrize(
    ("cursor", "offset", "message"),
    [
        ("not-a-cursor", 0, "cursor is invalid"),
        ("eyJhIjoxfQ", 0, "cursor is invalid"),
        (None, 0, None),
    ],
)
def test_bad_cursors_are_validation_errors(cursor: str | None, offset: int, message: str | None) -> None:
    if message is None:
        assert parse_keyset(EXECUTIONS_CURSOR, 10, offset, cursor).after is None
        return
    with pytest.raises(ValidationError, match=message):
        parse_keyset(EXECUTIONS_CURSOR, 10, offset, cursor)


def test_a_cursor_of_another_list_is_refused(db: Database) -> None:
    _store(db, _history(seed=2, count=4))
    cursor = json.loads(ExecutionHistoryService(db, HistoryRepository()).scenarios(Keyset(limit=1)))[
        "nextCursor"
    ]
    assert cursor is not None
    with pytest.raises(ValidationError, match="cursor is invalid"):
        parse_keyset(EXECUTIONS_CURSOR, 10, 0, cursor)
    with pytest.raises(ValidationError, match="either cursor or offset"):
        parse_keyset("scenarios", 10, 3, cursor)
