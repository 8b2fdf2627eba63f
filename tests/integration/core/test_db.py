"""testgenie.db: one connection, reconnect once, transactions, a clear error when the server is gone."""

from __future__ import annotations

import psycopg
import pytest
from testgenie.db import Database
from testgenie.errors import DatabaseUnavailableError


def _backend_pid(db: Database) -> int:
    row = db.run(lambda conn: conn.execute("SELECT pg_backend_pid() AS pid").fetchone())
    assert row is not None
    return int(row["pid"])


def test_reuses_one_connection(database_url: str) -> None:
    db = Database(database_url)
    assert _backend_pid(db) == _backend_pid(db)


def test_reconnects_once_after_the_connection_is_killed(database_url: str) -> None:
    db = Database(database_url)
    first = _backend_pid(db)
    with psycopg.connect(database_url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (first,))

    assert _backend_pid(db) != first


def test_rolls_back_the_whole_transaction_on_error(db: Database) -> None:
    def work(conn: psycopg.Connection[dict[str, object]]) -> None:
        conn.execute(
            "INSERT INTO suite_requests (id, scenario_name, requested_types, coverage_target, priority, status) "
            "VALUES (gen_random_uuid(), 'demo', '{unit}', 95, 'normal', 'queued')"
        )
        raise RuntimeError("fail after the insert")

    with pytest.raises(RuntimeError):
        db.run(work)
    row = db.run(lambda conn: conn.execute("SELECT COUNT(*) AS n FROM suite_requests").fetchone())
    assert row == {"n": 0}


def test_unreachable_server_is_a_clear_transient_error() -> None:
    db = Database("postgresql://postgres@127.0.0.1:1/nowhere", connect_timeout=1)

    with pytest.raises(DatabaseUnavailableError, match="database unavailable"):
        db.run(lambda conn: conn.execute("SELECT 1"))
    assert db.ping() is False


def test_statement_errors_are_not_retried(db: Database) -> None:
    calls: list[int] = []

    def work(conn: psycopg.Connection[dict[str, object]]) -> None:
        calls.append(1)
        conn.execute("SELECT * FROM no_such_table")

    with pytest.raises(psycopg.errors.UndefinedTable):
        db.run(work)
    assert calls == [1]


def test_single_statements_run_without_an_explicit_transaction_and_reconnect_too(database_url: str) -> None:
    db = Database(database_url)
    first = db.statement(
        lambda conn: conn.execute(
            "SELECT pg_backend_pid() AS pid, now() = statement_timestamp() AS auto"
        ).fetchone()
    )
    assert first is not None
    assert first["auto"] is True  # autocommit: the statement is its own transaction
    with psycopg.connect(database_url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (first["pid"],))

    again = db.statement(lambda conn: conn.execute("SELECT pg_backend_pid() AS pid").fetchone())
    assert again is not None
    assert again["pid"] != first["pid"]


def test_a_url_from_the_secret_refuses_a_server_without_verified_tls(database_url: str) -> None:
    """The test server has no certificate an RDS CA signed (nor TLS at all): verify-full refuses it,
    where `prefer` would have connected in the clear."""
    from psycopg.conninfo import conninfo_to_dict
    from testgenie.db import dsn_from_secret

    params = conninfo_to_dict(database_url)
    host = str(params.get("host") or "")
    if not host or host.startswith("/"):
        pytest.skip("TLS does not apply over a unix socket")
    secret = {
        "host": host,
        "port": params.get("port") or 5432,
        "username": params.get("user") or "postgres",
        "password": params.get("password") or "unused",
        "dbname": params.get("dbname"),
    }

    with pytest.raises(DatabaseUnavailableError, match=r"SSL|certificate"):
        Database(dsn_from_secret(secret)).connection()
