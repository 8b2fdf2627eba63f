"""SuiteRequestStore: what SuiteRequestService needs of the suite_requests table.

`SuiteRequestRepository` (PostgreSQL) is the one the service runs on; tests/support/fakes.py holds one
in memory, and tests/contract/test_queue_contract.py runs the same rules against both, so they cannot
drift. Every transition happens inside the caller's transaction (`conn`) and only from the states
its docstring names (docs/database.md, "States").
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from testgenie.db import Connection
from testgenie.paging import Keyset
from testgenie.queue.models import Claim, SuiteRequest, SuiteRequestFilter, SuiteRequestStatus


class SuiteRequestStore(Protocol):
    def insert(
        self, conn: Connection, request: SuiteRequest, idempotency_key: str | None
    ) -> tuple[SuiteRequest, bool]:
        """Insert; with an idempotency key already used, the first request instead (created=False)."""
        ...

    def get(self, conn: Connection, request_id: UUID) -> SuiteRequest | None: ...

    def list_recent(
        self, conn: Connection, query: SuiteRequestFilter, keyset: Keyset
    ) -> list[SuiteRequest]: ...

    def claim(self, conn: Connection, request_id: UUID, lease_seconds: int, claim_id: UUID) -> Claim | None:
        """queued|delegated -> running, unless a cancel was requested; attempts + 1 is the token."""
        ...

    def claim_durable(
        self, conn: Connection, request_id: UUID, lease_seconds: int, claim_id: UUID, execution_arn: str
    ) -> Claim | None:
        """Like claim, and the same claim again (token and progress kept) for the execution that
        already holds the request: a replayed claim step takes it once."""
        ...

    def durable_execution_arn(self, conn: Connection, request_id: UUID) -> str | None: ...

    def claimed(self, conn: Connection, request_id: UUID, claim_id: UUID) -> Claim | None: ...

    def record_progress(
        self, conn: Connection, request_id: UUID, token: int, progress: dict[str, Any], lease_seconds: int
    ) -> bool | None:
        """Progress and a renewed lease while `token` is current: whether a cancel was requested, or
        None when the token is stale."""
        ...

    def finish(
        self,
        conn: Connection,
        request_id: UUID,
        token: int,
        status: SuiteRequestStatus,
        progress: dict[str, Any] | None,
        reason: str | None = None,
    ) -> SuiteRequest | None: ...

    def cancel(self, conn: Connection, request_id: UUID) -> SuiteRequest | None: ...

    def lock_expired(self, conn: Connection, limit: int) -> list[dict[str, Any]]:
        """Running rows whose lease ran out (id, attempts, cancel_requested, …), oldest lease first."""
        ...

    def release(
        self, conn: Connection, request_id: UUID, token: int, status: SuiteRequestStatus, reason: str | None
    ) -> bool: ...

    def lock(self, conn: Connection, request_id: UUID) -> dict[str, Any] | None:
        """status, cancel_requested, attempts, dead_letters, lease_live of one row."""
        ...

    def count_dead_letter(self, conn: Connection, request_id: UUID) -> None: ...

    def fail_unclaimed(
        self, conn: Connection, request_id: UUID, progress: dict[str, Any], reason: str
    ) -> SuiteRequest | None: ...

    def touch_stale_queued(self, conn: Connection, older_than_seconds: int, limit: int) -> list[UUID]: ...

    def status_counts(self, conn: Connection) -> dict[str, int]: ...

    def oldest_claimable_created_at(self, conn: Connection) -> datetime | None: ...
