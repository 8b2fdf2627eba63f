"""testgenie.db: one connection, reconnect once, transactions, a clear error when the server is gone."""

from __future__ import annotations

import json
from collections.abc import Callable

import boto3
import psycopg
import pytest
from moto import mock_aws
from testgenie.db import PROXY_CA_BUNDLE, Database, resolve_database_url, through_proxy
from testgenie.errors import DatabaseBusyError, DatabaseUnavailableError
from testgenie_local.polling import wait_for


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
    first = db.run_statement(
        lambda conn: conn.execute(
            "SELECT pg_backend_pid() AS pid, now() = statement_timestamp() AS auto"
        ).fetchone()
    )
    assert first is not None
    assert first["auto"] is True  # autocommit: the statement is its own transaction
    with psycopg.connect(database_url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (first["pid"],))

    again = db.run_statement(lambda conn: conn.execute("SELECT pg_backend_pid() AS pid").fetchone())
    assert again is not None
    assert again["pid"] != first["pid"]


def _backends_of(database_url: str, role: object) -> int:
    with psycopg.connect(database_url, autocommit=True) as admin:
        row = admin.execute("SELECT count(*) FROM pg_stat_activity WHERE usename = %s", (role,)).fetchone()
    return int(row[0]) if row else 0


def test_a_server_out_of_connection_slots_is_busy_not_down(
    database_url: str, connection_limited_url: Callable[[int], str]
) -> None:
    one_slot = connection_limited_url(1)
    holder = Database(one_slot)
    assert holder.ping()
    second = Database(one_slot)

    with pytest.raises(DatabaseBusyError, match=r"database busy: .*too many connections"):
        second.run(lambda conn: conn.execute("SELECT 1"))
    holder.close()  # the slot frees: the same Database connects on its next use
    role = psycopg.conninfo.conninfo_to_dict(one_slot)["user"]
    # The server's backend exits a moment after its client has gone: wait for that, not a fixed time.
    wait_for(lambda: _backends_of(database_url, role) == 0, 10, "the holder's backend to exit")
    row = second.run_statement(lambda conn: conn.execute("SELECT 1 AS one").fetchone())
    assert row == {"one": 1}
    second.close()


def test_an_unreachable_server_is_not_reported_busy() -> None:
    db = Database("postgresql://postgres@127.0.0.1:1/nowhere", connect_timeout=1)
    with pytest.raises(DatabaseUnavailableError) as caught:
        db.run(lambda conn: conn.execute("SELECT 1"))
    assert not isinstance(caught.value, DatabaseBusyError)


def test_a_proxy_endpoint_replaces_the_host_of_the_url_and_keeps_the_rest(database_url: str) -> None:
    url = resolve_database_url(
        "postgresql://app:s3cret@db.internal:6543/testgenie?sslmode=require", None, "proxy.example"
    )
    assert psycopg.conninfo.conninfo_to_dict(url) == {
        "host": "proxy.example",
        "port": "6543",
        "user": "app",
        "password": "s3cret",
        "dbname": "testgenie",
        "sslmode": "require",
    }
    # A real server reached "through a proxy" (its own host under another name) answers the same.
    host = str(psycopg.conninfo.conninfo_to_dict(database_url).get("host") or "127.0.0.1")
    through = Database(resolve_database_url(through_proxy(database_url, "localhost"), None, host))
    assert through.ping()
    through.close()


@mock_aws
def test_a_proxy_endpoint_replaces_the_host_of_the_secret() -> None:
    secret = boto3.client("secretsmanager", region_name="us-east-1").create_secret(
        Name="testgenie/db",
        SecretString=json.dumps(
            {"host": "db.internal", "port": 5432, "username": "app", "password": "pw", "dbname": "tg"}
        ),
    )
    url = resolve_database_url(None, secret["ARN"], "testgenie.proxy-abc.us-east-1.rds.amazonaws.com")
    params = psycopg.conninfo.conninfo_to_dict(url)
    assert (params["host"], params["user"], params["dbname"], params["sslmode"]) == (
        "testgenie.proxy-abc.us-east-1.rds.amazonaws.com",
        "app",
        "tg",
        "verify-full",
    )
    # The proxy's certificate chains to the Amazon Trust roots, not to the RDS CAs.
    assert params["sslrootcert"] == str(PROXY_CA_BUNDLE)
    assert PROXY_CA_BUNDLE.read_text().count("BEGIN CERTIFICATE") == 5
    assert (
        psycopg.conninfo.conninfo_to_dict(resolve_database_url(None, secret["ARN"]))["host"] == "db.internal"
    )


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
