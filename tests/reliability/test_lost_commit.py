"""A connection cut right after COMMIT: the write is stored, its acknowledgement lost.

A TCP proxy between the service and PostgreSQL lets the statement commit and drops the server's
answer (tests/reliability/tcp_proxy.py). A blind retry would run the write twice; the outcome is
unknown, so it is read back and acted on (docs/database.md, "What can go wrong").
"""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import pytest
from testgenie.db import Connection, Database
from testgenie.errors import CommitOutcomeUnknownError

from tests.reliability.conftest import query
from tests.reliability.tcp_proxy import CuttingProxy

_INSERT = (
    "INSERT INTO suite_requests (id, scenario_name, requested_types, coverage_target, priority, status) "
    "VALUES (%s, 'rel-cut', '{unit}', 95, 'normal', 'queued')"
)


def _rows(database_url: str, request_id: Any) -> int:
    return int(
        query(database_url, "SELECT count(*) AS n FROM suite_requests WHERE id = %s", (request_id,))[0]["n"]
    )


def test_a_transaction_whose_commit_answer_is_lost_is_not_rerun(
    database_url: str, cutting_proxy: CuttingProxy
) -> None:
    db = Database(cutting_proxy.url(database_url))
    request_id = uuid4()
    calls = 0

    def insert(conn: Connection) -> None:
        nonlocal calls
        calls += 1
        conn.execute(_INSERT, (request_id,))

    db.ping()
    cutting_proxy.cut_after("COMMIT")
    with pytest.raises(CommitOutcomeUnknownError):
        db.run(insert)

    assert cutting_proxy.cuts == ["COMMIT"]
    assert calls == 1, "a commit with an unknown outcome was retried"
    assert _rows(database_url, request_id) == 1
    assert db.ping(), "the next use reconnects"


def test_a_broken_link_before_commit_is_retried_once(database_url: str, cutting_proxy: CuttingProxy) -> None:
    """The cut lands on the INSERT inside the transaction: nothing committed, so the retry is safe."""
    db = Database(cutting_proxy.url(database_url))
    request_id = uuid4()
    db.ping()
    cutting_proxy.cut_after("INSERT INTO suite_requests")

    db.run(lambda conn: conn.execute(_INSERT, (request_id,)))

    assert _rows(database_url, request_id) == 1


def test_a_lone_write_whose_answer_is_lost_is_not_rerun(
    database_url: str, cutting_proxy: CuttingProxy
) -> None:
    db = Database(cutting_proxy.url(database_url))
    request_id = uuid4()
    db.ping()
    cutting_proxy.cut_after("INSERT INTO suite_requests")

    with pytest.raises(CommitOutcomeUnknownError):
        db.run_statement(lambda conn: conn.execute(_INSERT, (request_id,)), idempotent=False)

    assert _rows(database_url, request_id) == 1
    # A read is retried on a fresh connection.
    cutting_proxy.cut_after("SELECT 1")
    assert db.ping()
