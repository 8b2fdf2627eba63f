"""A TCP proxy between the service and PostgreSQL that loses the server's answer to a chosen statement.

`cut_after(pattern)` arms it: the next statement whose SQL contains `pattern` reaches the server and
runs there (a COMMIT commits, an autocommit UPDATE is committed), but once the server has finished
answering it (ReadyForQuery), the proxy drops that answer and closes both sides. The client sees a
broken connection with the outcome unknown: the case a blind retry gets wrong (docs/database.md).

It speaks just enough of the PostgreSQL wire protocol to see statements: the untyped startup message,
then typed messages (Q = simple query, P = parse with its SQL, B = bind of a named statement, so a
prepared statement is still recognised). Connections must not use TLS (`url()` sets sslmode=disable).
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from psycopg.conninfo import conninfo_to_dict, make_conninfo


class _Frames:
    """Splits a byte stream into PostgreSQL messages (type byte + 4-byte length, or untyped startup)."""

    def __init__(self, untyped_first: bool) -> None:
        self._buffer = bytearray()
        self._untyped = untyped_first

    def feed(self, data: bytes) -> list[tuple[bytes, bytes]]:
        self._buffer += data
        messages: list[tuple[bytes, bytes]] = []
        while True:
            if self._untyped:
                if len(self._buffer) < 4:
                    return messages
                (length,) = struct.unpack("!I", self._buffer[:4])
                if len(self._buffer) < length:
                    return messages
                messages.append((b"", bytes(self._buffer[4:length])))
                del self._buffer[:length]
                self._untyped = False
                continue
            if len(self._buffer) < 5:
                return messages
            (length,) = struct.unpack("!I", self._buffer[1:5])
            if len(self._buffer) < 1 + length:
                return messages
            kind, payload = bytes(self._buffer[:1]), bytes(self._buffer[5 : 1 + length])
            messages.append((kind, payload))
            del self._buffer[: 1 + length]


def _cstrings(payload: bytes, count: int) -> list[str]:
    parts = payload.split(b"\x00", count)
    return [p.decode("utf-8", errors="replace") for p in parts[:count]]


class _Session:
    """One client connection and its upstream connection."""

    def __init__(self, proxy: CuttingProxy) -> None:
        self._proxy = proxy
        self._prepared: dict[str, str] = {}
        self._doomed = False  # the server's answer in flight must be dropped

    def statement_of(self, kind: bytes, payload: bytes) -> str | None:
        if kind == b"Q":
            return _cstrings(payload, 1)[0]
        if kind == b"P":
            name, sql = _cstrings(payload, 2)
            self._prepared[name] = sql
            return sql
        if kind == b"B":
            _portal, name = _cstrings(payload, 2)
            return self._prepared.get(name)
        return None

    async def client_to_server(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        frames = _Frames(untyped_first=True)
        while data := await reader.read(65536):
            for kind, payload in frames.feed(data):
                sql = self.statement_of(kind, payload)
                if sql is not None and self._proxy.take_cut(sql):
                    self._doomed = True
            writer.write(data)
            await writer.drain()

    async def server_to_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Forward answers; returns True when the connection was cut on purpose."""
        frames = _Frames(untyped_first=False)
        while data := await reader.read(65536):
            kinds = [kind for kind, _ in frames.feed(data)]
            if not self._doomed:
                writer.write(data)
                await writer.drain()
            elif b"Z" in kinds:  # the server is done with the statement: lose its answer
                return True
        return False


class CuttingProxy:
    """Runs on its own event loop thread; `url(database_url)` points a client at it."""

    def __init__(self, database_url: str) -> None:
        self._target = conninfo_to_dict(database_url)
        self._lock = threading.Lock()
        self._pending: list[str] = []
        self.cuts: list[str] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._server: asyncio.Server | None = None
        self.port = self._call(self._listen).result()

    def _call(self, make: Callable[[], Any]) -> Future[Any]:
        return asyncio.run_coroutine_threadsafe(make(), self._loop)

    async def _listen(self) -> int:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return int(self._server.sockets[0].getsockname()[1])

    async def _open_upstream(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        host = str(self._target.get("host") or "127.0.0.1")
        port = int(self._target.get("port") or 5432)
        if host.startswith("/"):
            return await asyncio.open_unix_connection(f"{host}/.s.PGSQL.{port}")
        return await asyncio.open_connection(host, port)

    async def _serve(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        server_reader, server_writer = await self._open_upstream()
        session = _Session(self)
        upstream = asyncio.ensure_future(session.client_to_server(client_reader, server_writer))
        try:
            await session.server_to_client(server_reader, client_writer)
        except (ConnectionError, OSError):
            pass
        finally:
            upstream.cancel()
            for writer in (client_writer, server_writer):
                writer.close()
                with contextlib.suppress(ConnectionError, OSError):
                    await writer.wait_closed()

    def url(self, database_url: str) -> str:
        """`database_url` through this proxy (TCP on 127.0.0.1, no TLS, no GSS encryption)."""
        params = conninfo_to_dict(database_url)
        params.update(host="127.0.0.1", port=str(self.port), sslmode="disable", gssencmode="disable")
        return make_conninfo(**{k: str(v) for k, v in params.items() if v is not None})

    def cut_after(self, pattern: str) -> None:
        """Lose the server's answer to the next statement whose SQL contains `pattern` (once)."""
        with self._lock:
            self._pending.append(pattern)

    def take_cut(self, sql: str) -> bool:
        with self._lock:
            for pattern in self._pending:
                if pattern in sql:
                    self._pending.remove(pattern)
                    self.cuts.append(pattern)
                    return True
        return False

    @property
    def armed(self) -> bool:
        with self._lock:
            return bool(self._pending)

    def close(self) -> None:
        async def stop() -> None:
            if self._server is not None:
                self._server.close()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        with contextlib.suppress(Exception):
            self._call(stop).result(timeout=5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()
