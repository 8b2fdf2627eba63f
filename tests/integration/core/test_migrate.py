"""testgenie.migrate on a real PostgreSQL: order, checksums, lock, no-op, refusal of edited files."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from testgenie.migrate import MigrationError, load_migrations, migrate
from testgenie_local.postgres import PostgresServer, create_database, drop_database

from tests.support.paths import REPO_ROOT
from tests.support.threads import join_all, start_all


@pytest.fixture
def empty_db(postgres_server: PostgresServer) -> Iterator[str]:
    url = create_database(postgres_server.admin_url, prefix="testgenie_migrate")
    yield url
    drop_database(postgres_server.admin_url, url)


@pytest.fixture
def migrations_copy(tmp_path: Path) -> Path:
    target = tmp_path / "migrations"
    shutil.copytree(REPO_ROOT / "migrations", target)
    return target


def _tables(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()
    return {row[0] for row in rows}


def test_applies_every_file_in_order_then_is_a_no_op(empty_db: str, migrations_copy: Path) -> None:
    applied = migrate(empty_db, migrations_copy)

    assert applied[:3] == [
        "0001_suite_requests.sql",
        "0002_suite_executions.sql",
        "0003_request_reason_and_claims.sql",
    ]
    assert {"suite_requests", "suite_executions", "schema_migrations"} <= _tables(empty_db)
    with psycopg.connect(empty_db) as conn:
        recorded = conn.execute("SELECT version, checksum FROM schema_migrations ORDER BY version").fetchall()
    expected = [(m.version, m.checksum) for m in load_migrations(migrations_copy)]
    assert recorded == expected
    assert migrate(empty_db, migrations_copy) == []


def test_applies_only_new_files(empty_db: str, migrations_copy: Path) -> None:
    migrate(empty_db, migrations_copy)
    (migrations_copy / "9001_extra.sql").write_text("CREATE TABLE extra (id INT);")

    assert migrate(empty_db, migrations_copy) == ["9001_extra.sql"]
    assert "extra" in _tables(empty_db)


def test_refuses_an_edited_applied_file(empty_db: str, migrations_copy: Path) -> None:
    migrate(empty_db, migrations_copy)
    path = migrations_copy / "0001_suite_requests.sql"
    path.write_text(path.read_text() + "\n-- edited\n")

    with pytest.raises(MigrationError, match=r"0001_suite_requests\.sql was edited after it was applied"):
        migrate(empty_db, migrations_copy)


def test_a_failing_file_is_rolled_back_and_reported(empty_db: str, migrations_copy: Path) -> None:
    (migrations_copy / "9001_broken.sql").write_text(
        "CREATE TABLE half (id INT); SELECT * FROM missing_table;"
    )

    with pytest.raises(MigrationError, match=r"migration 9001_broken\.sql failed"):
        migrate(empty_db, migrations_copy)
    assert "half" not in _tables(empty_db)  # one transaction per file
    with psycopg.connect(empty_db) as conn:
        versions = [r[0] for r in conn.execute("SELECT version FROM schema_migrations ORDER BY version")]
    assert versions[:3] == ["0001", "0002", "0003"]
    assert "9001" not in versions


def test_rejects_badly_named_files(empty_db: str, migrations_copy: Path) -> None:
    (migrations_copy / "3_oops.sql").write_text("SELECT 1;")

    with pytest.raises(MigrationError, match=r"must look like 0001_name\.sql"):
        migrate(empty_db, migrations_copy)


def test_concurrent_migrators_apply_each_file_once(empty_db: str, migrations_copy: Path) -> None:
    results: list[list[str]] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.append(migrate(empty_db, migrations_copy))
        except BaseException as exc:
            errors.append(exc)

    join_all(start_all(threading.Thread(target=run) for _ in range(4)))

    assert errors == []
    every_file = len(load_migrations(migrations_copy))
    assert sorted(len(r) for r in results) == [0, 0, 0, every_file]
