"""In-memory fakes of the service's ports, for tests that run the rules without PostgreSQL or AWS.

They live with the tests, not in the layer: the layer ships to Lambda and holds production code only.
`memory_services()` wires them through `bootstrap.build`, the one composition root, as production does.
tests/contract/test_queue_contract.py runs the same rules against these and against PostgreSQL, so
the fakes cannot drift from the repositories' SQL.

- FakeClock: the wall clock, moved on by the test (lease expiry, stale rows, retention).
- MemoryDatabase: units of work over MemoryTables; a failed unit leaves the tables as they were; it
  can go down, come back, or lose the answer to a commit (CommitOutcomeUnknownError).
- MemoryQueueStore / MemoryExecutionStore: the suite_requests and suite_executions rules.
- FakePublisher, MemoryArtifactStore, FakeRunnerClient: SQS, the artifact store, RunnerFunction.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar, cast
from uuid import UUID

from testgenie import bootstrap
from testgenie.artifacts import UploadTarget, log_key
from testgenie.db import Connection
from testgenie.errors import CommitOutcomeUnknownError, DatabaseUnavailableError
from testgenie.execution.repository import ExpiredExecution
from testgenie.orchestrator.run.engine_protocol import SuiteEngine
from testgenie.paging import Keyset, uuid_key
from testgenie.queue.models import (
    CANCELLABLE,
    CLAIMABLE,
    Claim,
    SuiteRequest,
    SuiteRequestFilter,
    SuiteRequestStatus,
)
from testgenie.records import SuiteExecutionRecord
from testgenie.runner.client import RunnerFailure
from testgenie.runner.protocol import PhaseAnswer, PhaseInvocation
from testgenie.settings import Settings

from tests.support.engine import FakeEngine

T = TypeVar("T")


class FakeClock:
    """A wall clock that moves only when told to."""

    def __init__(self, start: datetime | None = None) -> None:
        self.current = start or datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.current

    def advance(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)


class DuplicateKeyError(Exception):
    """What PostgreSQL's unique indexes refuse (a second execution of one request, a reused id)."""


@dataclass
class MemoryTables:
    """The rows of suite_requests and suite_executions (plus what a row carries beyond the models)."""

    requests: dict[UUID, dict[str, Any]] = field(default_factory=dict)
    executions: dict[UUID, SuiteExecutionRecord] = field(default_factory=dict)
    pinned: set[UUID] = field(default_factory=set)

    def execution_of(self, request_id: UUID) -> UUID | None:
        return next((e.id for e in self.executions.values() if e.suite_request_id == request_id), None)


class MemoryDatabase:
    """Transactions over MemoryTables: a unit of work that raises leaves no trace (a rollback)."""

    def __init__(self, tables: MemoryTables | None = None) -> None:
        self.tables = tables or MemoryTables()
        self.down = False
        self.lose_commits = 0  # the next N units commit, then raise CommitOutcomeUnknownError
        self.units = 0
        self.closed = False

    def run(self, fn: Callable[[Connection], T]) -> T:
        return self._unit(fn)

    def run_statement(self, fn: Callable[[Connection], T], *, idempotent: bool = True) -> T:
        return self._unit(fn)

    def _unit(self, fn: Callable[[Connection], T]) -> T:
        if self.down:
            raise DatabaseUnavailableError("database unavailable: the memory database is down")
        self.units += 1
        before = copy.deepcopy(self.tables)
        try:
            # The memory stores never read the connection: they share the tables.
            result = fn(cast(Connection, self.tables))
        except BaseException:
            self.tables.requests, self.tables.executions = before.requests, before.executions
            self.tables.pinned = before.pinned
            raise
        if self.lose_commits:
            self.lose_commits -= 1
            raise CommitOutcomeUnknownError("database connection lost while committing (memory)")
        return result

    def close(self) -> None:
        self.closed = True


_CLAIMABLE = {s.value for s in CLAIMABLE}
_CANCELLABLE = {s.value for s in CANCELLABLE}


class MemoryQueueStore:
    """SuiteRequestStore over MemoryTables: each method is the repository's one statement."""

    def __init__(self, tables: MemoryTables, clock: Callable[[], datetime]) -> None:
        self.tables = tables
        self.clock = clock

    @property
    def _rows(self) -> dict[UUID, dict[str, Any]]:
        return self.tables.requests

    def _request(self, row: dict[str, Any]) -> SuiteRequest:
        fields = {k: v for k, v in row.items() if k in SuiteRequest.model_fields}
        return SuiteRequest.model_validate(
            {**copy.deepcopy(fields), "execution_id": self.tables.execution_of(row["id"])}
        )

    def _claim(self, row: dict[str, Any]) -> Claim:
        request = self._request(row)
        return Claim(
            request=request,
            token=request.attempts,
            claim_id=row["claim_id"],
            lease_expires_at=row["lease_expires_at"],
        )

    def insert(
        self, conn: object, request: SuiteRequest, idempotency_key: str | None
    ) -> tuple[SuiteRequest, bool]:
        if idempotency_key is not None:
            for row in self._rows.values():
                if row["idempotency_key"] == idempotency_key:
                    return self._request(row), False
        if request.id in self._rows:
            raise DuplicateKeyError(f"suite request {request.id} exists")
        now = self.clock()
        row = request.model_dump(exclude={"execution_id", "estimated_queue_time_seconds"})
        row.update(
            status=request.status.value,
            attempts=0,
            cancel_requested=False,
            progress=None,
            reason=None,
            claim_id=None,
            lease_expires_at=None,
            dead_letters=0,
            durable_execution_arn=None,
            idempotency_key=idempotency_key,
            created_at=now,
            updated_at=now,
        )
        self._rows[request.id] = row
        return self._request(row), True

    def get(self, conn: object, request_id: UUID) -> SuiteRequest | None:
        row = self._rows.get(request_id)
        return self._request(row) if row else None

    def list_recent(self, conn: object, query: SuiteRequestFilter, keyset: Keyset) -> list[SuiteRequest]:
        rows = [
            row
            for row in self._rows.values()
            if (query.status is None or row["status"] == query.status)
            and (query.scenario is None or row["scenario_name"] == query.scenario)
            and (query.since is None or row["created_at"] >= query.since)
        ]
        after = uuid_key(keyset.after)
        if after is not None:
            rows = [row for row in rows if (row["created_at"], row["id"]) < after]
        rows.sort(key=lambda row: (row["created_at"], row["id"]), reverse=True)
        return [self._request(row) for row in rows[keyset.offset : keyset.offset + keyset.limit + 1]]

    def claim(self, conn: object, request_id: UUID, lease_seconds: int, claim_id: UUID) -> Claim | None:
        row = self._rows.get(request_id)
        if row is None or row["status"] not in _CLAIMABLE or row["cancel_requested"]:
            return None
        now = self.clock()
        row.update(
            status=SuiteRequestStatus.RUNNING.value,
            attempts=row["attempts"] + 1,
            claim_id=claim_id,
            lease_expires_at=now + timedelta(seconds=lease_seconds),
            progress=None,
            reason=None,
            updated_at=now,
        )
        return self._claim(row)

    def claim_durable(
        self, conn: object, request_id: UUID, lease_seconds: int, claim_id: UUID, execution_arn: str
    ) -> Claim | None:
        row = self._rows.get(request_id)
        if row is None:
            return None
        again = row["status"] == SuiteRequestStatus.RUNNING.value and row["claim_id"] == claim_id
        if not again and (row["status"] not in _CLAIMABLE or row["cancel_requested"]):
            return None
        now = self.clock()
        row.update(
            status=SuiteRequestStatus.RUNNING.value,
            attempts=row["attempts"] if again else row["attempts"] + 1,
            claim_id=claim_id,
            durable_execution_arn=execution_arn,
            lease_expires_at=now + timedelta(seconds=lease_seconds),
            progress=row["progress"] if again else None,
            reason=None,
            updated_at=now,
        )
        return self._claim(row)

    def durable_execution_arn(self, conn: object, request_id: UUID) -> str | None:
        row = self._rows.get(request_id)
        return row["durable_execution_arn"] if row else None

    def claimed(self, conn: object, request_id: UUID, claim_id: UUID) -> Claim | None:
        row = self._rows.get(request_id)
        if row is None or row["claim_id"] != claim_id or row["status"] != SuiteRequestStatus.RUNNING.value:
            return None
        return self._claim(row)

    def _current(self, request_id: UUID, token: int) -> dict[str, Any] | None:
        row = self._rows.get(request_id)
        if row is None or row["status"] != SuiteRequestStatus.RUNNING.value or row["attempts"] != token:
            return None
        return row

    def record_progress(
        self, conn: object, request_id: UUID, token: int, progress: dict[str, Any], lease_seconds: int
    ) -> bool | None:
        row = self._current(request_id, token)
        if row is None:
            return None
        now = self.clock()
        row.update(
            progress=copy.deepcopy(progress),
            updated_at=now,
            lease_expires_at=now + timedelta(seconds=lease_seconds),
        )
        return bool(row["cancel_requested"])

    def finish(
        self,
        conn: object,
        request_id: UUID,
        token: int,
        status: SuiteRequestStatus,
        progress: dict[str, Any] | None,
        reason: str | None = None,
    ) -> SuiteRequest | None:
        row = self._current(request_id, token)
        if row is None:
            return None
        row.update(status=status.value, lease_expires_at=None, reason=reason, updated_at=self.clock())
        if progress is not None:
            row["progress"] = copy.deepcopy(progress)
        return self._request(row)

    def cancel(self, conn: object, request_id: UUID) -> SuiteRequest | None:
        row = self._rows.get(request_id)
        if row is None or row["status"] not in _CANCELLABLE:
            return None
        if row["status"] != SuiteRequestStatus.RUNNING.value:
            row.update(status=SuiteRequestStatus.CANCELLED.value, reason="cancelled before it ran")
        row.update(cancel_requested=True, updated_at=self.clock())
        return self._request(row)

    def lock_expired(self, conn: object, limit: int) -> list[dict[str, Any]]:
        now = self.clock()
        expired = [
            row
            for row in self._rows.values()
            if row["status"] == SuiteRequestStatus.RUNNING.value
            and row["lease_expires_at"] is not None
            and row["lease_expires_at"] < now
        ]
        expired.sort(key=lambda row: row["lease_expires_at"])
        keys = ("id", "scenario_name", "attempts", "progress", "preset", "phases", "skip", "fail_fast")
        extra = ("trigger", "cancel_requested", "created_at", "durable_execution_arn")
        return [{k: copy.deepcopy(row[k]) for k in (*keys, *extra)} for row in expired[:limit]]

    def release(
        self, conn: object, request_id: UUID, token: int, status: SuiteRequestStatus, reason: str | None
    ) -> bool:
        row = self._current(request_id, token)
        if row is None:
            return False
        row.update(status=status.value, lease_expires_at=None, reason=reason, updated_at=self.clock())
        return True

    def lock(self, conn: object, request_id: UUID) -> dict[str, Any] | None:
        row = self._rows.get(request_id)
        if row is None:
            return None
        live = row["lease_expires_at"] is not None and row["lease_expires_at"] > self.clock()
        keys = ("status", "cancel_requested", "attempts", "dead_letters")
        return {**{k: row[k] for k in keys}, "lease_live": live}

    def count_dead_letter(self, conn: object, request_id: UUID) -> None:
        row = self._rows.get(request_id)
        if row is not None:
            row.update(dead_letters=row["dead_letters"] + 1, updated_at=self.clock())

    def fail_unclaimed(
        self, conn: object, request_id: UUID, progress: dict[str, Any], reason: str
    ) -> SuiteRequest | None:
        row = self._rows.get(request_id)
        if row is None or row["status"] not in _CLAIMABLE:
            return None
        merged = {**(row["progress"] or {}), **copy.deepcopy(progress)}  # jsonb `||`: a shallow merge
        row.update(
            status=SuiteRequestStatus.FAILED.value,
            lease_expires_at=None,
            reason=reason,
            progress=merged,
            updated_at=self.clock(),
        )
        return self._request(row)

    def touch_stale_queued(self, conn: object, older_than_seconds: int, limit: int) -> list[UUID]:
        now = self.clock()
        cutoff = now - timedelta(seconds=older_than_seconds)
        stale = [
            row
            for row in self._rows.values()
            if row["status"] in _CLAIMABLE and row["updated_at"] < cutoff and not row["cancel_requested"]
        ]
        stale.sort(key=lambda row: row["updated_at"])
        for row in stale[:limit]:
            row["updated_at"] = now
        return [row["id"] for row in stale[:limit]]

    def status_counts(self, conn: object) -> dict[str, int]:
        counts: dict[str, int] = {}
        for row in self._rows.values():
            counts[row["status"]] = counts.get(row["status"], 0) + 1
        return counts

    def oldest_claimable_created_at(self, conn: object) -> datetime | None:
        return min((r["created_at"] for r in self._rows.values() if r["status"] in _CLAIMABLE), default=None)


class MemoryExecutionStore:
    """ExecutionStore over MemoryTables (the scenario summaries are history's, not modelled here)."""

    def __init__(self, tables: MemoryTables) -> None:
        self.tables = tables

    def create(self, conn: object, record: SuiteExecutionRecord) -> None:
        if record.id in self.tables.executions:
            raise DuplicateKeyError(f"execution {record.id} exists")
        if record.suite_request_id is not None and self.tables.execution_of(record.suite_request_id):
            raise DuplicateKeyError(f"suite request {record.suite_request_id} already has its execution")
        self.tables.executions[record.id] = record

    def get_by_id(self, conn: object, execution_id: UUID) -> SuiteExecutionRecord | None:
        return self.tables.executions.get(execution_id)

    def get_by_request(self, conn: object, suite_request_id: UUID) -> SuiteExecutionRecord | None:
        execution = self.tables.execution_of(suite_request_id)
        return self.tables.executions[execution] if execution is not None else None

    def set_pinned(self, conn: object, execution_id: UUID, pinned: bool) -> bool:
        if execution_id not in self.tables.executions:
            return False
        (self.tables.pinned.add if pinned else self.tables.pinned.discard)(execution_id)
        return True

    def delete_expired(self, conn: object, older_than: datetime, batch: int) -> list[ExpiredExecution]:
        expired = sorted(
            (
                r
                for r in self.tables.executions.values()
                if r.completed_at < older_than and r.id not in self.tables.pinned
            ),
            key=lambda r: (r.completed_at, r.id),
        )[:batch]
        for record in expired:
            del self.tables.executions[record.id]
        return [
            ExpiredExecution(r.id, r.scenario_name, [p.log_path for p in r.phases if p.log_path])
            for r in expired
        ]

    def rebuild_summary(self, conn: object, scenario: str) -> None:
        return None

    def count(self) -> int:
        return len(self.tables.executions)


class MemoryTimingStore:
    """The test timings retention prunes (the shard planner's, not modelled here: nothing to prune)."""

    def prune(self, conn: object, cutoff: datetime, batch: int) -> int:
        return 0


class FakePublisher:
    """SQS as the service sees it: what was published, what was handed back. `failing` ids (or all,
    with `fail_all`) are reported unsent; `broken` raises on publish."""

    def __init__(self, *, fail_all: bool = False, broken: Exception | None = None) -> None:
        self.published: list[UUID] = []
        self.releases: list[tuple[list[str], int]] = []
        self.failing: set[UUID] = set()
        self.fail_all = fail_all
        self.broken = broken

    def publish(self, request_ids: Iterable[UUID]) -> list[UUID]:
        if self.broken is not None:
            raise self.broken
        ids = list(request_ids)
        failed = [i for i in ids if self.fail_all or i in self.failing]
        self.published.extend(i for i in ids if i not in failed)
        return failed

    def release(self, receipt_handles: Iterable[str], visibility_timeout: int = 0) -> None:
        self.releases.append((list(receipt_handles), visibility_timeout))


class MemoryArtifactStore:
    """Phase logs in a dict, keyed by their logPath."""

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}

    def put_log(self, execution_id: UUID | str, phase: str, data: bytes) -> str:
        key = log_key(execution_id, phase)
        self.objects[key] = data
        return key

    def read_log(self, execution_id: UUID | str, phase: str, tail_bytes: int) -> str | None:
        try:
            data = self.objects.get(log_key(execution_id, phase))
        except ValueError:
            return None
        return None if data is None else data[-max(0, tail_bytes) :].decode("utf-8", errors="replace")

    def delete_logs(self, keys: list[str]) -> None:
        for key in keys:
            self.objects.pop(key, None)

    def upload_target(self, execution_id: UUID | str, phase: str, expires_seconds: int) -> UploadTarget:
        key = log_key(execution_id, phase)
        return UploadTarget(url=f"memory://{key}", headers={}, key=key)


class FakeRunnerClient:
    """RunnerFunction: `answer(invocation)` returns the PhaseAnswer or raises RunnerFailure."""

    def __init__(self, answer: Callable[[PhaseInvocation], PhaseAnswer]) -> None:
        self.answer = answer
        self.invocations: list[PhaseInvocation] = []

    def run_phase(self, invocation: PhaseInvocation, wait_seconds: float) -> PhaseAnswer:
        self.invocations.append(invocation)
        if wait_seconds <= 0:
            raise RunnerFailure("the runner gave no answer within 0.0s", timed_out=True)
        return self.answer(invocation)


@dataclass
class MemoryPorts:
    """The fakes one `memory_services()` shares, for the test to look at and steer."""

    clock: FakeClock
    database: MemoryDatabase
    queue_store: MemoryQueueStore
    execution_store: MemoryExecutionStore
    publisher: FakePublisher
    artifacts: MemoryArtifactStore


def memory_ports(clock: FakeClock | None = None, publisher: FakePublisher | None = None) -> MemoryPorts:
    clock = clock or FakeClock()
    database = MemoryDatabase()
    return MemoryPorts(
        clock=clock,
        database=database,
        queue_store=MemoryQueueStore(database.tables, clock),
        execution_store=MemoryExecutionStore(database.tables),
        publisher=publisher or FakePublisher(),
        artifacts=MemoryArtifactStore(),
    )


def memory_services(
    ports: MemoryPorts | None = None, *, engine: SuiteEngine | None = None, **settings: Any
) -> bootstrap.Services:
    """`bootstrap.build` on the fakes (no PostgreSQL, no AWS), with these settings and a FakeEngine
    unless another engine is given."""
    ports = ports or memory_ports()
    return bootstrap.build(
        Settings(**settings),
        database=ports.database,
        publisher=ports.publisher,
        artifacts=ports.artifacts,
        engine=engine or FakeEngine(),
        clock=ports.clock,
        queue_store=ports.queue_store,
        execution_store=ports.execution_store,
        timing_store=MemoryTimingStore(),
    )
