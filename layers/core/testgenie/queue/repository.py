"""SuiteRequestRepository: every state transition is one conditional UPDATE ... RETURNING."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
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
from testgenie.sql import load_queries

QUERIES = load_queries(Path(__file__).with_name("queries.sql"))
_CLAIMABLE = [s.value for s in CLAIMABLE]
_CANCELLABLE = [s.value for s in CANCELLABLE]


class SuiteRequestRepository:
    def insert(
        self, conn: Connection, request: SuiteRequest, idempotency_key: str | None
    ) -> tuple[SuiteRequest, bool]:
        """Insert; with an idempotency key already used, return the first request instead (created=False)."""
        row = conn.execute(
            QUERIES["insert_request"],
            {
                "id": request.id,
                "scenario_name": request.scenario_name,
                "requested_types": request.requested_types,
                "coverage_target": request.coverage_target,
                "priority": request.priority.value,
                "status": request.status.value,
                "notes": request.notes,
                "delegation_issue_id": request.delegation_issue_id,
                "preset": request.preset,
                "phases": request.phases,
                "skip": request.skip,
                "fail_fast": request.fail_fast,
                "trigger": request.trigger.value,
                "idempotency_key": idempotency_key,
                "rerun_of": request.rerun_of,
                "shards": None if request.shards is None else str(request.shards),
            },
        ).fetchone()
        if row is not None:
            created = self.get(conn, request.id)
            assert created is not None
            return created, True
        existing = self.get_by_idempotency_key(conn, idempotency_key or "")
        assert existing is not None, "ON CONFLICT without a conflicting row"
        return existing, False

    def get(self, conn: Connection, request_id: UUID) -> SuiteRequest | None:
        row = conn.execute(QUERIES["get_request"], {"id": request_id}).fetchone()
        return _from_row(row) if row else None

    def get_by_idempotency_key(self, conn: Connection, key: str) -> SuiteRequest | None:
        row = conn.execute(QUERIES["get_request_by_idempotency_key"], {"key": key}).fetchone()
        return _from_row(row) if row else None

    def list_recent(self, conn: Connection, query: SuiteRequestFilter, keyset: Keyset) -> list[SuiteRequest]:
        """Newest first, up to limit + 1 (the extra one says there is a next page)."""
        sql, params = suite_requests_page_sql(query, keyset)
        return [_from_row(row) for row in conn.execute(sql, params).fetchall()]

    def claim(self, conn: Connection, request_id: UUID, lease_seconds: int, claim_id: UUID) -> Claim | None:
        """queued|delegated -> running in one statement; the new attempts value is the fencing token."""
        row = conn.execute(
            QUERIES["claim_request"],
            {"id": request_id, "claim_id": claim_id, "lease_seconds": lease_seconds, "claimable": _CLAIMABLE},
        ).fetchone()
        return _claim_from_row(row) if row else None

    def claim_durable(
        self, conn: Connection, request_id: UUID, lease_seconds: int, claim_id: UUID, execution_arn: str
    ) -> Claim | None:
        """The claim of a durable execution, taken once however often its step is replayed (queries.sql)."""
        row = conn.execute(
            QUERIES["claim_durable_request"],
            {
                "id": request_id,
                "claim_id": claim_id,
                "execution_arn": execution_arn,
                "lease_seconds": lease_seconds,
                "claimable": _CLAIMABLE,
            },
        ).fetchone()
        return _claim_from_row(row) if row else None

    def durable_execution_arn(self, conn: Connection, request_id: UUID) -> str | None:
        row = conn.execute(QUERIES["durable_execution_arn"], {"id": request_id}).fetchone()
        return row["durable_execution_arn"] if row else None

    def claimed(self, conn: Connection, request_id: UUID, claim_id: UUID) -> Claim | None:
        """The claim `claim_id`, if it is the request's current one (read back after a lost answer)."""
        row = conn.execute(QUERIES["get_claim"], {"id": request_id, "claim_id": claim_id}).fetchone()
        return _claim_from_row(row) if row else None

    def record_progress(
        self, conn: Connection, request_id: UUID, token: int, progress: dict[str, Any], lease_seconds: int
    ) -> bool | None:
        """Store progress and renew the lease while the token is current.

        Returns whether cancellation was requested, or None when the token is stale.
        """
        row = conn.execute(
            QUERIES["record_progress"],
            {"id": request_id, "token": token, "progress": Jsonb(progress), "lease_seconds": lease_seconds},
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
            QUERIES["finish_request"],
            {
                "id": request_id,
                "token": token,
                "status": status.value,
                "progress": Jsonb(progress) if progress is not None else None,
                "reason": reason,
            },
        ).fetchone()
        return _from_row(row) if row else None

    def cancel(self, conn: Connection, request_id: UUID) -> SuiteRequest | None:
        """queued|delegated -> cancelled; running -> cancel requested. None when terminal or missing."""
        row = conn.execute(
            QUERIES["cancel_request"], {"id": request_id, "cancellable": _CANCELLABLE}
        ).fetchone()
        return _from_row(row) if row else None

    def lock_expired(self, conn: Connection, limit: int) -> list[dict[str, Any]]:
        """Running rows whose lease ran out, locked for this transaction; a concurrent reaper skips them."""
        return conn.execute(QUERIES["lock_expired"], {"limit": limit}).fetchall()

    def release(
        self, conn: Connection, request_id: UUID, token: int, status: SuiteRequestStatus, reason: str | None
    ) -> bool:
        """The reaper's transition of an expired lease: running -> queued | failed | cancelled."""
        row = conn.execute(
            QUERIES["release_request"],
            {"id": request_id, "token": token, "status": status.value, "reason": reason},
        ).fetchone()
        return row is not None

    def lock(self, conn: Connection, request_id: UUID) -> dict[str, Any] | None:
        """The row's state, locked for this transaction (the dead-letter decision)."""
        return conn.execute(QUERIES["lock_request"], {"id": request_id}).fetchone()

    def count_dead_letter(self, conn: Connection, request_id: UUID) -> None:
        conn.execute(QUERIES["count_dead_letter"], {"id": request_id})

    def fail_unclaimed(
        self, conn: Connection, request_id: UUID, progress: dict[str, Any], reason: str
    ) -> SuiteRequest | None:
        """queued|delegated -> failed (dead-lettered deliveries). A running request is its worker's or
        the reaper's to end, and terminal rows stay as they are."""
        row = conn.execute(
            QUERIES["fail_unclaimed"],
            {"id": request_id, "reason": reason, "progress": Jsonb(progress), "claimable": _CLAIMABLE},
        ).fetchone()
        return _from_row(row) if row else None

    def touch_stale_queued(self, conn: Connection, older_than_seconds: int, limit: int) -> list[UUID]:
        """Queued rows untouched for a while (a publish may have been lost): mark them and return their ids."""
        rows = conn.execute(
            QUERIES["touch_stale_queued"],
            {"claimable": _CLAIMABLE, "older_than_seconds": older_than_seconds, "limit": limit},
        ).fetchall()
        return [row["id"] for row in rows]

    def status_counts(self, conn: Connection) -> dict[str, int]:
        rows = conn.execute(QUERIES["status_counts"]).fetchall()
        return {row["status"]: int(row["n"]) for row in rows}

    def oldest_claimable_created_at(self, conn: Connection) -> datetime | None:
        row = conn.execute(QUERIES["oldest_claimable"], {"claimable": _CLAIMABLE}).fetchone()
        return row["oldest"] if row else None


def suite_requests_page_sql(query: SuiteRequestFilter, keyset: Keyset) -> tuple[str, dict[str, Any]]:
    """list_requests with one where_* block per given filter (queries.sql says why)."""
    after = uuid_key(keyset.after)
    params: dict[str, Any] = {
        "status": query.status,
        "scenario": query.scenario,
        "since": query.since,
        "after_at": after[0] if after else None,
        "after_id": after[1] if after else None,
    }
    given = [name for name, key in _FILTERS if params[key] is not None]
    conditions = " AND ".join(QUERIES[name] for name in given) or "TRUE"
    params.update(limit=keyset.limit + 1, offset=keyset.offset)
    return QUERIES["list_requests"].replace("{conditions}", conditions), params


# Each where_* block of list_requests and the parameter that switches it on.
_FILTERS = (
    ("where_status", "status"),
    ("where_scenario", "scenario"),
    ("where_since", "since"),
    ("where_before", "after_at"),
)


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
