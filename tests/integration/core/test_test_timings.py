"""Per-test durations learned from recorded runs, and cached collections, on a real PostgreSQL."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from testgenie.db import Connection, Database
from testgenie.execution.repository import SuiteExecutionRepository
from testgenie.execution.retention import RetentionService
from testgenie.orchestrator.models import TestTiming
from testgenie.shards.repository import Collection, TestTimingRepository

from tests.support.records import run_record

NOW = datetime.now(UTC)


def _record(db: Database, scenario: str, timings: list[TestTiming]) -> None:
    record = run_record(scenario, NOW, {"unit": "passed"}).model_copy(update={"test_timings": timings})
    db.run(lambda conn: SuiteExecutionRepository().create(conn, record))


def _durations(db: Database, scenario: str, phase: str = "unit") -> dict[str, float]:
    return db.run(lambda conn: TestTimingRepository().durations(conn, scenario, phase))


def test_a_recorded_run_teaches_its_durations_and_the_next_one_updates_them(db: Database) -> None:
    _record(
        db,
        "timed",
        [
            TestTiming(phase="unit", test_id="tests.test_a::test_one", duration_ms=1500),
            TestTiming(phase="unit", test_id="tests.test_a::test_two", duration_ms=20),
            TestTiming(phase="integration", test_id="tests.test_a::test_one", duration_ms=9000),
        ],
    )
    assert _durations(db, "timed") == {"tests.test_a::test_one": 1.5, "tests.test_a::test_two": 0.02}
    assert _durations(db, "timed", "integration") == {"tests.test_a::test_one": 9.0}
    assert _durations(db, "other") == {}

    _record(db, "timed", [TestTiming(phase="unit", test_id="tests.test_a::test_one", duration_ms=700)])
    assert _durations(db, "timed") == {"tests.test_a::test_one": 0.7, "tests.test_a::test_two": 0.02}


def test_a_run_without_timings_records_as_before(db: Database) -> None:
    _record(db, "untimed", [])
    assert _durations(db, "untimed") == {}
    count = db.run(
        lambda conn: conn.execute(
            "SELECT count(*) AS n FROM suite_executions WHERE scenario_name = 'untimed'"
        ).fetchone()
    )
    assert count is not None
    assert count["n"] == 1


def test_concurrent_recordings_of_one_scenario_neither_deadlock_nor_lose_a_run(database_url: str) -> None:
    """Two runs upserting the same tests at once: both commit (rows are locked in one order)."""
    ids = [f"tests.test_many::test_{i:04}" for i in range(300)]
    errors: list[BaseException] = []
    barrier = threading.Barrier(4, timeout=60)

    def record(offset: int) -> None:
        db = Database(database_url)
        try:
            # Half the runs measure the opposite durations: by duration their rows come in opposite orders.
            timings = [
                TestTiming(phase="unit", test_id=t, duration_ms=i if offset % 2 else 1000 - i)
                for i, t in enumerate(ids)
            ]
            barrier.wait()
            for _ in range(3):
                _record(db, "contended", timings)
        except BaseException as exc:
            errors.append(exc)
        finally:
            db.close()

    threads = [threading.Thread(target=record, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=240)
    assert errors == []
    db = Database(database_url)
    try:
        assert len(_durations(db, "contended")) == 300
        runs = db.run(
            lambda conn: conn.execute(
                "SELECT count(*) AS n FROM suite_executions WHERE scenario_name = 'contended'"
            ).fetchone()
        )
        assert runs is not None
        assert runs["n"] == 12
    finally:
        db.close()


def test_the_collection_cache_keeps_the_first_answer_per_key(db: Database) -> None:
    repo = TestTimingRepository()
    first = Collection(mode="tests", test_ids=("tests/test_a.py::test_one", "tests/test_a.py::test_two"))

    def work(conn: Connection) -> tuple[Collection | None, Collection | None, Collection | None]:
        missing = repo.collection(conn, "cached", "k1")
        repo.store_collection(conn, "cached", "k1", first)
        repo.store_collection(conn, "cached", "k1", Collection(mode="commands"))  # a racing duplicate
        repo.store_collection(conn, "cached", "k2", Collection(mode="commands"))
        return missing, repo.collection(conn, "cached", "k1"), repo.collection(conn, "cached", "k2")

    missing, found, other = db.run(work)
    assert missing is None
    assert found == first
    assert other == Collection(mode="commands", test_ids=())


def test_retention_prunes_timings_and_collections_not_seen_since_the_cutoff(db: Database) -> None:
    _record(
        db,
        "pruned",
        [
            TestTiming(phase="unit", test_id="old", duration_ms=10),
            TestTiming(phase="unit", test_id="fresh", duration_ms=10),
        ],
    )
    repo = TestTimingRepository()
    db.run(lambda conn: repo.store_collection(conn, "pruned", "old-key", Collection(mode="commands")))
    db.run(lambda conn: repo.store_collection(conn, "pruned", "new-key", Collection(mode="commands")))
    long_ago = NOW - timedelta(days=400)
    db.run(
        lambda conn: conn.execute(
            "UPDATE test_timings SET updated_at = %s WHERE scenario_name = 'pruned' AND test_id = 'old'",
            (long_ago,),
        )
    )
    db.run(
        lambda conn: conn.execute(
            "UPDATE test_collections SET created_at = %s WHERE cache_key = 'old-key'", (long_ago,)
        )
    )

    RetentionService(db, SuiteExecutionRepository(), None, 30, timings=TestTimingRepository(), batch=1).prune(
        now=NOW
    )

    assert _durations(db, "pruned") == {"fresh": 0.01}
    assert db.run(lambda conn: repo.collection(conn, "pruned", "old-key")) is None
    assert db.run(lambda conn: repo.collection(conn, "pruned", "new-key")) is not None
