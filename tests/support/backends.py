"""The two storage backends the queue's contract suite runs on: PostgreSQL (the repositories) and the
in-memory fakes. Both build their services through `bootstrap.build`; both can move time on."""

from __future__ import annotations

from typing import Any, Protocol

from testgenie import bootstrap
from testgenie.db import Database

from tests.support.engine import FakeEngine
from tests.support.fakes import FakePublisher, memory_ports, memory_services
from tests.support.services import services


class Backend(Protocol):
    name: str
    publisher: FakePublisher

    def services(self, **settings: Any) -> bootstrap.Services:
        """Services on this backend's one store (call again for a second worker on the same rows)."""
        ...

    def advance(self, seconds: float) -> None:
        """Move time on by `seconds`, as far as the stored rows can tell."""
        ...

    def execution_count(self) -> int: ...


class PostgresBackend:
    name = "postgres"

    def __init__(self, db: Database) -> None:
        self.db = db
        self.publisher = FakePublisher()

    def services(self, **settings: Any) -> bootstrap.Services:
        return services(self.db, self.publisher, engine=FakeEngine(), **settings)

    def advance(self, seconds: float) -> None:
        # The repositories compare with the server's NOW(): moving every stored time back by `seconds`
        # is the same as the clock moving on by it.
        self.db.run(
            lambda conn: conn.execute(
                "UPDATE suite_requests SET lease_expires_at = lease_expires_at - make_interval(secs => %s), "
                "updated_at = updated_at - make_interval(secs => %s), "
                "created_at = created_at - make_interval(secs => %s)",
                (seconds, seconds, seconds),
            )
        )

    def execution_count(self) -> int:
        row = self.db.run_statement(
            lambda conn: conn.execute("SELECT COUNT(*) AS n FROM suite_executions").fetchone()
        )
        return int(row["n"]) if row else 0


class MemoryBackend:
    name = "memory"

    def __init__(self) -> None:
        self.ports = memory_ports()
        self.publisher = self.ports.publisher

    def services(self, **settings: Any) -> bootstrap.Services:
        return memory_services(self.ports, **settings)

    def advance(self, seconds: float) -> None:
        self.ports.clock.advance(seconds)

    def execution_count(self) -> int:
        return self.ports.execution_store.count()
