"""SuiteRequestRepository: every state transition is one conditional UPDATE ... RETURNING."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg.types.json import Jsonb

from testgenie.db import Connection
from testgenie.orchestrator.models import parse_shards
from testgenie.paging import Keyset, uuid_key
from testgenie.queue.models import (
    CANCELLABLE,
    CLAIMABLE,
    Claim,
    SuiteRequest,
    SuiteRequestFilter,
    SuiteRequestStatus,
)

_COLUMNS = (
    "r.id, r.scenario_name, r.requested_types, r.coverage_target, r.priority, r.status, r.notes, "
    "r.delegation_issue_id, r.preset, r.phases, r.skip, r.fail_fast, r.shards, r.trigger, r.attempts, "
    "r.progress, r.reason, r.claim_id, r.lease_expires_at, r.cancel_requested, r.created_at, r.updated_at, "
    "r.rerun_of, "
    "(SELECT e.id FROM suite_executions e WHERE e.suite_request_id = r.id) AS execution_id"
)
_CLAIMABLE = [s.value for s in CLAIMABLE]
_CANCELLABLE = [s.value for s in CANCELLABLE]


class SuiteRequestRepository:
    def insert(
        self, conn: Connection, request: SuiteRequest, idempotency_key: str | None
    ) -> tuple[SuiteRequest, bool]:
        """Insert; with an idempotency key already used, return the first request instead (created=False)."""
        row = conn.execute(
            "INSERT INTO suite_requests (id, scenario_name, requested_types, coverage_target, priority, status, "
            "notes, delegation_issue_id, preset, phases, skip, fail_fast, trigger, idempotency_key, rerun_of, "
            "shards) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (idempotency_key) DO NOTHING RETURNING id",
            (
                request.id,
                request.scenario_name,
                request.requested_types,
                request.coverage_target,
                request.priority.value,
                request.status.value,
                request.notes,
                request.delegation_issue_id,
                request.preset,
                request.phases,
                request.skip,
                request.fail_fast,
                request.trigger.value,
                idempotency_key,
                request.rerun_of,
                None if request.shards is None else str(request.shards),
            ),
        ).fetchone()
        if row is not None:
            created = self.get(conn, request.id)
            assert created is not None
            return created, True
        existing = self.get_by_idempotency_key(conn, idempotency_key or "")
        assert existing is not None, "ON CONFLICT without a conflicting row"
        return existing, False

    def get(self, conn: Connection, request_id: UUID) -> SuiteRequest | None:
        row = conn.execute(
            f"SELECT {_COLUMNS} FROM suite_requests r WHERE r.id = %s", (request_id,)
        ).fetchone()
        return _from_row(row) if row else None

    def get_by_idempotency_key(self, conn: Connection, key: str) -> SuiteRequest | None:
        row = conn.execute(
            f"SELECT {_COLUMNS} FROM suite_requests r WHERE r.idempotency_key = %s", (key,)
        ).fetchone()
        return _from_row(row) if row else None

    def list_recent(self, conn: Connection, query: SuiteRequestFilter, keyset: Keyset) -> list[SuiteRequest]:
        """Newest first, up to limit + 1 (the extra one says there is a next page)."""
        sql, params = suite_requests_page_sql(query, keyset)
        return [_from_row(row) for row in conn.execute(sql, params).fetchall()]

    def claim(self, conn: Connection, request_id: UUID, lease_seconds: int, claim_id: UUID) -> Claim | None:
        """queued|delegated -> running in one statement; the new attempts value is the fencing token."""
        row = conn.execute(
            "UPDATE suite_requests r SET status = 'running', attempts = attempts + 1, claim_id = %s, "
            "lease_expires_at = NOW() + make_interval(secs => %s), progress = NULL, reason = NULL, "
            "updated_at = NOW() "
            f"WHERE r.id = %s AND r.status = ANY(%s) AND NOT r.cancel_requested RETURNING {_COLUMNS}",
            (claim_id, lease_seconds, request_id, _CLAIMABLE),
        ).fetchone()
        return _claim_from_row(row) if row else None

    def claim_durable(
        self, conn: Connection, request_id: UUID, lease_seconds: int, claim_id: UUID, execution_arn: str
    ) -> Claim | None:
        """The claim of a durable execution: queued|delegated -> running, or the same claim again when
        this execution (`claim_id` is derived from its ARN) already holds the request. A replayed or
        retried claim step therefore takes the request once, keeping its token and progress."""
        row = conn.execute(
            "UPDATE suite_requests r SET status = 'running', "
            "attempts = CASE WHEN r.status = 'running' THEN r.attempts ELSE r.attempts + 1 END, "
            "claim_id = %s, durable_execution_arn = %s, "
            "lease_expires_at = NOW() + make_interval(secs => %s), "
            "progress = CASE WHEN r.status = 'running' THEN r.progress END, reason = NULL, "
            "updated_at = NOW() "
            "WHERE r.id = %s AND ((r.status = ANY(%s) AND NOT r.cancel_requested) "
            f"OR (r.status = 'running' AND r.claim_id = %s)) RETURNING {_COLUMNS}",
            (claim_id, execution_arn, lease_seconds, request_id, _CLAIMABLE, claim_id),
        ).fetchone()
        return _claim_from_row(row) if row else None

    def durable_execution_arn(self, conn: Connection, request_id: UUID) -> str | None:
        row = conn.execute(
            "SELECT durable_execution_arn FROM suite_requests WHERE id = %s", (request_id,)
        ).fetchone()
        return row["durable_execution_arn"] if row else None

    def claimed(self, conn: Connection, request_id: UUID, claim_id: UUID) -> Claim | None:
        """The claim `claim_id`, if it is the request's current one (read back after a lost answer)."""
        row = conn.execute(
            f"SELECT {_COLUMNS} FROM suite_requests r "
            "WHERE r.id = %s AND r.claim_id = %s AND r.status = 'running'",
            (request_id, claim_id),
        ).fetchone()
        return _claim_from_row(row) if row else None

    def record_progress(
        self, conn: Connection, request_id: UUID, token: int, progress: dict[str, Any], lease_seconds: int
    ) -> bool | None:
        """Store progress and renew the lease while the token is current.

        Returns whether cancellation was requested, or None when the token is stale.
        """
        row = conn.execute(
            "UPDATE suite_requests SET progress = %s, updated_at = NOW(), "
            "lease_expires_at = NOW() + make_interval(secs => %s) "
            "WHERE id = %s AND status = 'running' AND attempts = %s RETURNING cancel_requested",
            (Jsonb(progress), lease_seconds, request_id, token),
        ).fetchone()
        return None if row is None else bool(row["cancel_requested"])

    def finish(
        self,
        conn: Connection,
        request_id: UUID,
        token: int,
        status: SuiteRequestStatus,
        progress: dict[str, Any] | None,
        reason: str | None = None,
    ) -> SuiteRequest | None:
        """running -> completed|failed|cancelled, only while the caller's token is current."""
        row = conn.execute(
            "UPDATE suite_requests r SET status = %s, lease_expires_at = NULL, "
            "progress = COALESCE(%s, progress), reason = %s, updated_at = NOW() "
            f"WHERE r.id = %s AND r.status = 'running' AND r.attempts = %s RETURNING {_COLUMNS}",
            (status.value, Jsonb(progress) if progress is not None else None, reason, request_id, token),
        ).fetchone()
        return _from_row(row) if row else None

    def cancel(self, conn: Connection, request_id: UUID) -> SuiteRequest | None:
        """queued|delegated -> cancelled; running -> cancel requested. None when terminal or missing."""
        row = conn.execute(
            "UPDATE suite_requests r SET "
            "status = CASE WHEN r.status = 'running' THEN 'running' ELSE 'cancelled' END, "
            "reason = CASE WHEN r.status = 'running' THEN r.reason ELSE 'cancelled before it ran' END, "
            "cancel_requested = TRUE, updated_at = NOW() "
            f"WHERE r.id = %s AND r.status = ANY(%s) RETURNING {_COLUMNS}",
            (request_id, _CANCELLABLE),
        ).fetchone()
        return _from_row(row) if row else None

    def lock_expired(self, conn: Connection, limit: int) -> list[dict[str, Any]]:
        """Running rows whose lease ran out, locked for this transaction; a concurrent reaper skips them."""
        return conn.execute(
            "SELECT id, scenario_name, attempts, progress, preset, phases, skip, fail_fast, trigger, "
            "cancel_requested, created_at, durable_execution_arn FROM suite_requests "
            "WHERE status = 'running' AND lease_expires_at < NOW() "
            "ORDER BY lease_expires_at LIMIT %s FOR UPDATE SKIP LOCKED",
            (limit,),
        ).fetchall()

    def release(
        self, conn: Connection, request_id: UUID, token: int, status: SuiteRequestStatus, reason: str | None
    ) -> bool:
        """The reaper's transition of an expired lease: running -> queued | failed | cancelled."""
        row = conn.execute(
            "UPDATE suite_requests SET status = %s, lease_expires_at = NULL, reason = %s, updated_at = NOW() "
            "WHERE id = %s AND status = 'running' AND attempts = %s RETURNING id",
            (status.value, reason, request_id, token),
        ).fetchone()
        return row is not None

    def lock(self, conn: Connection, request_id: UUID) -> dict[str, Any] | None:
        """The row's state, locked for this transaction (the dead-letter decision)."""
        return conn.execute(
            "SELECT status, cancel_requested, attempts, dead_letters, "
            "lease_expires_at IS NOT NULL AND lease_expires_at > NOW() AS lease_live "
            "FROM suite_requests WHERE id = %s FOR UPDATE",
            (request_id,),
        ).fetchone()

    def count_dead_letter(self, conn: Connection, request_id: UUID) -> None:
        conn.execute(
            "UPDATE suite_requests SET dead_letters = dead_letters + 1, updated_at = NOW() WHERE id = %s",
            (request_id,),
        )

    def fail_unclaimed(
        self, conn: Connection, request_id: UUID, progress: dict[str, Any], reason: str
    ) -> SuiteRequest | None:
        """queued|delegated -> failed (dead-lettered deliveries). A running request is its worker's or
        the reaper's to end, and terminal rows stay as they are."""
        row = conn.execute(
            "UPDATE suite_requests r SET status = 'failed', lease_expires_at = NULL, reason = %s, "
            "progress = COALESCE(r.progress, '{}'::jsonb) || %s, updated_at = NOW() "
            f"WHERE r.id = %s AND r.status = ANY(%s) RETURNING {_COLUMNS}",
            (reason, Jsonb(progress), request_id, _CLAIMABLE),
        ).fetchone()
        return _from_row(row) if row else None

    def touch_stale_queued(self, conn: Connection, older_than_seconds: int, limit: int) -> list[UUID]:
        """Queued rows untouched for a while (a publish may have been lost): mark them and return their ids."""
        rows = conn.execute(
            "UPDATE suite_requests SET updated_at = NOW() WHERE id IN ("
            " SELECT id FROM suite_requests WHERE status = ANY(%s) "
            " AND updated_at < NOW() - make_interval(secs => %s) AND NOT cancel_requested "
            " ORDER BY updated_at LIMIT %s FOR UPDATE SKIP LOCKED) RETURNING id",
            (_CLAIMABLE, older_than_seconds, limit),
        ).fetchall()
        return [row["id"] for row in rows]

    def status_counts(self, conn: Connection) -> dict[str, int]:
        rows = conn.execute("SELECT status, COUNT(*) AS n FROM suite_requests GROUP BY status").fetchall()
        return {row["status"]: int(row["n"]) for row in rows}

    def oldest_claimable_created_at(self, conn: Connection) -> datetime | None:
        row = conn.execute(
            "SELECT MIN(created_at) AS oldest FROM suite_requests WHERE status = ANY(%s)", (_CLAIMABLE,)
        ).fetchone()
        return row["oldest"] if row else None


def suite_requests_page_sql(query: SuiteRequestFilter, keyset: Keyset) -> tuple[str, list[Any]]:
    """Each filter is the leading column of an index on (…, created_at DESC, id DESC)."""
    conditions: list[str] = []
    params: list[Any] = []
    for column, value in (("r.status", query.status), ("r.scenario_name", query.scenario)):
        if value is not None:
            conditions.append(f"{column} = %s")
            params.append(value)
    if query.since is not None:
        conditions.append("r.created_at >= %s")
        params.append(query.since)
    after = uuid_key(keyset.after)
    if after is not None:
        conditions.append("(r.created_at, r.id) < (%s, %s)")
        params.extend(after)
    where = f"WHERE {' AND '.join(conditions)} " if conditions else ""
    sql = f"SELECT {_COLUMNS} FROM suite_requests r {where}ORDER BY r.created_at DESC, r.id DESC LIMIT %s OFFSET %s"
    return sql, [*params, keyset.limit + 1, keyset.offset]


def _claim_from_row(row: dict[str, Any]) -> Claim:
    request = _from_row(row)
    return Claim(
        request=request,
        token=request.attempts,
        claim_id=row["claim_id"],
        lease_expires_at=row["lease_expires_at"],
    )


def _from_row(row: dict[str, Any]) -> SuiteRequest:
    return SuiteRequest(
        id=row["id"],
        scenario_name=row["scenario_name"],
        requested_types=list(row["requested_types"] or []),
        coverage_target=row["coverage_target"],
        priority=row["priority"],
        status=row["status"],
        notes=row["notes"] or None,
        delegation_issue_id=row["delegation_issue_id"],
        preset=row["preset"],
        phases=row["phases"],
        skip=row["skip"],
        fail_fast=row["fail_fast"],
        shards=parse_shards(row["shards"]),
        trigger=row["trigger"],
        attempts=row["attempts"],
        cancel_requested=row["cancel_requested"],
        progress=row["progress"],
        reason=row["reason"],
        execution_id=row["execution_id"],
        rerun_of=row["rerun_of"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )
