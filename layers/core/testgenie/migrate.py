"""Applies migrations/*.sql in order, each in its own transaction, under an advisory lock.

Also the CloudFormation custom-resource handler of MigrateFunction (runs on every deploy).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import dict_row

from testgenie.errors import ConfigurationError, TestGenieError
from testgenie.observability import logger

# Any fixed 64-bit number shared by every migrator of this schema.
ADVISORY_LOCK_KEY = 7_346_110_251_337
_FILE_PATTERN = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


class MigrationError(TestGenieError):
    """A migration cannot be applied (an edited file, a bad name, SQL that fails)."""


@dataclass(frozen=True)
class Migration:
    version: str
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def default_migrations_dir(configured: Path | None = None) -> Path:
    """MIGRATIONS_DIR (Settings), else the Lambda task root (MigrateFunction's CodeUri), else the repo's."""
    if configured is not None:
        return configured
    task_root = os.environ.get("LAMBDA_TASK_ROOT")
    if task_root and any(Path(task_root).glob("*.sql")):
        return Path(task_root)
    return Path(__file__).resolve().parents[3] / "migrations"


def load_migrations(directory: Path) -> list[Migration]:
    if not directory.is_dir():
        raise ConfigurationError(f"migrations folder not found: {directory}")
    migrations: list[Migration] = []
    for path in sorted(directory.glob("*.sql")):
        match = _FILE_PATTERN.match(path.name)
        if not match:
            raise MigrationError(f"migration file name {path.name!r} must look like 0001_name.sql")
        migrations.append(Migration(match.group(1), path.name, path.read_text(encoding="utf-8")))
    versions = [m.version for m in migrations]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"two migration files share a version number in {directory}")
    return migrations


def migrate(database_url: str, directory: Path | None = None) -> list[str]:
    """Apply pending migrations; returns the names applied (empty when up to date)."""
    if directory is None:
        from testgenie.settings import get_settings

        directory = default_migrations_dir(get_settings().migrations_dir)
    migrations = load_migrations(directory)
    applied: list[str] = []
    with psycopg.connect(database_url, autocommit=True) as conn:
        # Session-level lock: concurrent deploys or test workers wait instead of racing.
        conn.execute("SELECT pg_advisory_lock(%s)", (ADVISORY_LOCK_KEY,))
        try:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version TEXT PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL,"
                " applied_at TIMESTAMPTZ NOT NULL DEFAULT NOW())"
            )
            with conn.cursor(row_factory=dict_row) as cur:
                rows = cur.execute("SELECT version, name, checksum FROM schema_migrations").fetchall()
            done = {row["version"]: (row["name"], row["checksum"]) for row in rows}
            for migration in migrations:
                if migration.version in done:
                    name, checksum = done[migration.version]
                    if checksum != migration.checksum:
                        raise MigrationError(
                            f"migration {migration.name} was edited after it was applied as {name} "
                            f"(checksum {migration.checksum[:12]} != recorded {checksum[:12]}); "
                            "add a new migration instead"
                        )
                    continue
                with conn.transaction():
                    try:
                        conn.execute(migration.sql.encode())
                    except psycopg.Error as exc:
                        raise MigrationError(f"migration {migration.name} failed: {exc}") from exc
                    conn.execute(
                        "INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                        (migration.version, migration.name, migration.checksum),
                    )
                logger.info("migration applied", extra={"migration": migration.name})
                applied.append(migration.name)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (ADVISORY_LOCK_KEY,))
    return applied


def custom_resource_handler(event: dict[str, Any], context: Any) -> None:
    """CloudFormation custom resource: migrate on Create/Update, nothing on Delete; always answer."""
    status, reason, data = "SUCCESS", "", {}
    try:
        if event.get("RequestType") in ("Create", "Update"):
            from testgenie.db import resolve_database_url
            from testgenie.settings import get_settings

            settings = get_settings()
            url = resolve_database_url(
                settings.database_url, settings.database_secret_arn, settings.database_proxy_endpoint
            )
            data = {"Applied": ",".join(migrate(url)) or "none"}
    except Exception as exc:  # any failure must reach CloudFormation, or the stack hangs for an hour
        logger.exception("migration failed")
        status, reason = "FAILED", str(exc)[:500]
    _send_cfn_response(event, context, status, reason, data)


def _send_cfn_response(
    event: dict[str, Any], context: Any, status: str, reason: str, data: dict[str, str]
) -> None:
    body = json.dumps(
        {
            "Status": status,
            "Reason": reason or f"see log stream {getattr(context, 'log_stream_name', '')}",
            "PhysicalResourceId": event.get("PhysicalResourceId") or "testgenie-schema",
            "StackId": event["StackId"],
            "RequestId": event["RequestId"],
            "LogicalResourceId": event["LogicalResourceId"],
            "Data": data,
        }
    ).encode()
    request = urllib.request.Request(  # noqa: S310 - the pre-signed https URL CloudFormation gave us
        event["ResponseURL"], data=body, method="PUT", headers={"Content-Type": ""}
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        response.read()
