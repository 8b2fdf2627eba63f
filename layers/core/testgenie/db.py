"""One PostgreSQL connection per execution environment, opened lazily, reconnected once.

Lambda runs one request at a time per environment, so a pool would only hold idle connections
against the database's limit. A Database is one connection; bootstrap builds one per environment
(the local stack's environments are threads). The lock only guards against misuse across threads.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, TypeVar

import psycopg
from psycopg.rows import dict_row

from testgenie.errors import (
    CommitOutcomeUnknownError,
    ConfigurationError,
    DatabaseBusyError,
    DatabaseUnavailableError,
)
from testgenie.observability import logger

T = TypeVar("T")
# The Amazon RDS certificate authorities, shipped in the layer (`make rds-ca`; docs/database.md):
# a connection built from the secret verifies the server's certificate and host name against them.
RDS_CA_BUNDLE = Path(__file__).resolve().parent / "certs" / "rds-ca-bundle.pem"
# RDS Proxy's certificates come from AWS Certificate Manager and chain to Amazon Trust Services roots.
PROXY_CA_BUNDLE = Path(__file__).resolve().parent / "certs" / "amazon-trust-ca-bundle.pem"
# Every connection reads rows by column name (psycopg's dict_row): no row is read by position.
Row = dict[str, Any]
Connection = psycopg.Connection[Row]


class Transactions(Protocol):
    """What the services need of a database: units of work (the stores do the SQL). `Database` is the
    PostgreSQL one; tests/support/fakes.py holds one in memory."""

    def run(self, fn: Callable[[Connection], T]) -> T: ...

    def run_statement(self, fn: Callable[[Connection], T], *, idempotent: bool = True) -> T: ...

    def close(self) -> None: ...


class Database:
    """Lazily opened connection; `run(fn)` executes fn in one transaction, retrying once on a broken link."""

    def __init__(self, dsn: str | Callable[[], str], connect_timeout: int = 5) -> None:
        self._dsn = dsn
        self._connect_timeout = connect_timeout
        self._conn: Connection | None = None
        self._lock = threading.RLock()

    def _resolve_dsn(self) -> str:
        return self._dsn() if callable(self._dsn) else self._dsn

    def _connect(self) -> Connection:
        try:
            return psycopg.connect(
                self._resolve_dsn(),
                autocommit=True,
                row_factory=dict_row,
                connect_timeout=self._connect_timeout,
                application_name="testgenie",
            )
        except psycopg.OperationalError as exc:
            if _is_busy(exc):
                raise DatabaseBusyError(f"database busy: {_first_line(exc)}") from exc
            raise DatabaseUnavailableError(f"database unavailable: {_first_line(exc)}") from exc

    @property
    def holds_connection(self) -> bool:
        """Whether a connection is open now (the durable coordinator holds none between its steps)."""
        return self._conn is not None and not self._conn.closed

    def connection(self) -> Connection:
        """The open connection, (re)opened when missing or closed."""
        if self._conn is None or self._conn.closed:
            self._conn = self._connect()
        return self._conn

    def run(self, fn: Callable[[Connection], T]) -> T:
        """Run fn inside one transaction. A connection that broke before COMMIT is reopened and fn
        retried once (that transaction never committed); one that broke during COMMIT raises
        CommitOutcomeUnknownError (it may have committed: the caller reads the state back)."""
        return self._with_retry(fn, transactional=True)

    def run_statement(self, fn: Callable[[Connection], T], *, idempotent: bool = True) -> T:
        """Run fn that issues ONE statement, in autocommit: the statement is its own transaction, with
        no BEGIN/COMMIT round trips (reads, single conditional UPDATEs). A lost connection is retried
        once when `idempotent` (reads, writes that may run twice); otherwise the statement may have
        committed and CommitOutcomeUnknownError is raised."""
        return self._with_retry(fn, transactional=False, idempotent=idempotent)

    def _with_retry(
        self, fn: Callable[[Connection], T], *, transactional: bool, idempotent: bool = True
    ) -> T:
        with self._lock:
            for attempt in (1, 2):
                conn = self.connection()
                committing = not transactional and not idempotent  # a lone write commits as it runs
                try:
                    if not transactional:
                        return fn(conn)
                    with conn.transaction():
                        result = fn(conn)
                        committing = True  # leaving the block sends COMMIT
                    return result
                except psycopg.OperationalError as exc:
                    if not conn.closed and not conn.broken:
                        raise  # a statement error (e.g. lock timeout), not a lost connection
                    self.close()
                    if committing:
                        raise CommitOutcomeUnknownError(
                            f"database connection lost while committing: {_first_line(exc)}"
                        ) from exc
                    if attempt == 2:
                        raise DatabaseUnavailableError(f"database unavailable: {_first_line(exc)}") from exc
                    logger.warning("database connection lost; reconnecting once", extra={"error": str(exc)})
            raise AssertionError("unreachable")

    def ping(self) -> bool:
        try:
            self.run_statement(lambda conn: conn.execute("SELECT 1").fetchone())
        except DatabaseUnavailableError:
            return False
        return True

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(psycopg.Error):
                conn.close()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


# SQLSTATE 53300 (too_many_connections); at connect time libpq gives only the server's text.
_BUSY_MARKERS = ("too many connections", "too many clients", "connection slots are reserved")


def _is_busy(exc: psycopg.OperationalError) -> bool:
    return exc.sqlstate == "53300" or any(marker in str(exc) for marker in _BUSY_MARKERS)


def resolve_database_url(
    database_url: str | None, secret_arn: str | None, proxy_endpoint: str | None = None
) -> str:
    """DATABASE_URL, or a Secrets Manager secret in the RDS JSON shape; with an RDS Proxy endpoint,
    the same credentials and database through the proxy's host."""
    if database_url:
        url = database_url
    elif secret_arn:
        import boto3  # lazily: only deployments that use a secret pay for boto3

        raw = boto3.client("secretsmanager").get_secret_value(SecretId=secret_arn)["SecretString"]
        url = dsn_from_secret(json.loads(raw))
    else:
        raise ConfigurationError("set DATABASE_URL or DATABASE_SECRET_ARN")
    return through_proxy(url, proxy_endpoint) if proxy_endpoint else url


def through_proxy(dsn: str, proxy_host: str) -> str:
    """The connection string aimed at an RDS Proxy: its host, the same port, user, password, database
    and TLS mode; a CA pinned to the RDS CAs becomes the Amazon Trust roots the proxy's certificate
    chains to (any other CA the secret names is kept)."""
    params = psycopg.conninfo.conninfo_to_dict(dsn)
    params.pop("hostaddr", None)
    params["host"] = proxy_host
    if params.get("sslrootcert") == str(RDS_CA_BUNDLE):
        params["sslrootcert"] = str(PROXY_CA_BUNDLE)
    return psycopg.conninfo.make_conninfo("", **params)


def dsn_from_secret(secret: dict[str, Any]) -> str:
    """A libpq URL from the RDS secret shape; TLS is `verify-full` against RDS_CA_BUNDLE unless the
    secret says otherwise (`sslmode`, `sslrootcert`), so a server that cannot prove it is the database
    is refused instead of trusted (`prefer` would accept anyone in the path)."""
    missing = [key for key in ("host", "username", "password") if not secret.get(key)]
    if missing:
        raise ConfigurationError(f"database secret is missing {', '.join(missing)}")
    return psycopg.conninfo.make_conninfo(
        host=str(secret["host"]),
        port=str(secret.get("port", 5432)),
        user=str(secret["username"]),
        password=str(secret["password"]),
        dbname=str(secret.get("dbname") or secret.get("database") or "postgres"),
        sslmode=str(secret.get("sslmode") or "verify-full"),
        sslrootcert=str(secret.get("sslrootcert") or RDS_CA_BUNDLE),
    )
