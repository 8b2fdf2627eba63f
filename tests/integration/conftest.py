"""Fixtures shared by the integration tests."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import psycopg
import pytest
from psycopg import sql


@pytest.fixture
def connection_limited_url(database_url: str) -> Iterator[Callable[[int], str]]:
    """limit -> a URL of the test database for a role allowed `limit` connections: one more is refused
    exactly as a server out of slots refuses it (SQLSTATE 53300)."""
    roles: list[str] = []

    def make(limit: int) -> str:
        role = f"testgenie_busy_{uuid.uuid4().hex[:10]}"
        ident = sql.Identifier(role)
        with psycopg.connect(database_url, autocommit=True) as admin:
            admin.execute(
                sql.SQL("CREATE ROLE {} LOGIN PASSWORD 'busy' CONNECTION LIMIT {}").format(
                    ident, sql.Literal(limit)
                )
            )
            roles.append(role)
            admin.execute(
                sql.SQL("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {}").format(
                    ident
                )
            )
            admin.execute(
                sql.SQL("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {}").format(ident)
            )
        return psycopg.conninfo.make_conninfo(database_url, user=role, password="busy")

    yield make
    with psycopg.connect(database_url, autocommit=True) as admin:
        for role in roles:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", (role,)
            )
            admin.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
            admin.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))
