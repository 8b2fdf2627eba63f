"""PostgreSQL for one machine: DATABASE_URL, else an embedded server (pgserver), else local binaries.

Used by `testgenie serve` (data kept in a folder so history survives restarts) and by the test
suite (a fresh database per session, dropped afterwards).
"""

from __future__ import annotations

import glob
import hashlib
import os
import pwd
import shutil
import socket
import stat
import subprocess
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql


@dataclass
class PostgresServer:
    """A reachable server; `admin_url` points at its maintenance database."""

    admin_url: str
    kind: str  # "external" | "embedded" | "binaries"
    _stop: Any = field(default=None, repr=False)

    def stop(self) -> None:
        if self._stop is not None:
            self._stop()
            self._stop = None


def provision(data_dir: Path, *, database_url: str | None = None, ephemeral: bool = False) -> PostgresServer:
    """The first of: DATABASE_URL, pgserver from pip, the machine's PostgreSQL binaries.

    `ephemeral` removes the server's files when it stops (test sessions).
    """
    url = database_url if database_url is not None else os.environ.get("DATABASE_URL")
    if url:
        return PostgresServer(admin_url=url, kind="external")
    data_dir.mkdir(parents=True, exist_ok=True)
    embedded = _start_pgserver(data_dir / "pgserver", ephemeral)
    if embedded is not None:
        return embedded
    return _start_binaries(data_dir / "pgdata", ephemeral)


class RestartablePostgres:
    """An embedded server of its own folder (never DATABASE_URL's) that its owner stops and starts at
    will: the outage drills (tests/reliability, benchmarks/load_restart.py) take it down mid-run."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.server: PostgresServer | None = provision(folder, database_url="")
        self.admin_url = self.server.admin_url

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None

    def start(self) -> None:
        if self.server is None:
            self.server = provision(self.folder, database_url="")
            if self.server.admin_url != self.admin_url:  # every URL handed out would be stale
                raise RuntimeError(f"the restarted server moved: {self.server.admin_url} != {self.admin_url}")


def _start_pgserver(pgdata: Path, ephemeral: bool) -> PostgresServer | None:
    try:
        import pgserver
    except ImportError:
        return None
    server = pgserver.get_server(str(pgdata), cleanup_mode="delete" if ephemeral else "stop")  # type: ignore[attr-defined]
    return PostgresServer(admin_url=server.get_uri("postgres"), kind="embedded", _stop=server.cleanup)


def _find_binaries() -> Path | None:
    if pg_ctl := shutil.which("pg_ctl"):
        return Path(pg_ctl).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), reverse=True)
    return Path(candidates[0]).parent if candidates else None


def _start_binaries(pgdata: Path, ephemeral: bool) -> PostgresServer:
    bindir = _find_binaries()
    if bindir is None:
        raise RuntimeError(
            "no PostgreSQL available: set DATABASE_URL, install the 'pgserver' wheel, or install PostgreSQL"
        )
    # PostgreSQL refuses to run as root: run it as an unprivileged account that owns the folder.
    user = None
    if os.geteuid() == 0:
        user = next((name for name in ("postgres", "nobody") if _user_exists(name)), None)
        if user is None:
            raise RuntimeError("running as root and no unprivileged user (postgres, nobody) exists")
    if user and not _traversable_by(pgdata.parent, user):
        # e.g. pytest's 0700 temp folders: keep the cluster where that user can reach it, stably
        # named after the requested folder so a restart finds the same data.
        digest = hashlib.sha256(str(pgdata.resolve()).encode()).hexdigest()[:12]
        pgdata = Path(tempfile.gettempdir()) / f"testgenie-pg-{digest}" / "pgdata"
    pgdata.mkdir(parents=True, exist_ok=True)
    socket_dir = pgdata / "socket"
    if user:
        entry = pwd.getpwnam(user)
        for path in (pgdata.parent, pgdata):
            os.chown(path, entry.pw_uid, entry.pw_gid)
    if not (pgdata / "PG_VERSION").exists():
        _run(user, str(bindir / "initdb"), "-D", str(pgdata), "-U", "postgres", "-A", "trust", "-E", "UTF8")
    socket_dir.mkdir(exist_ok=True)
    if user:
        os.chown(socket_dir, pwd.getpwnam(user).pw_uid, pwd.getpwnam(user).pw_gid)
    port = _free_port()
    options = f"-c listen_addresses='' -c unix_socket_directories='{socket_dir}' -p {port}"
    log = str(pgdata / "server.log")
    _run(user, str(bindir / "pg_ctl"), "-D", str(pgdata), "-o", options, "-l", log, "-w", "start")

    def stop() -> None:
        subprocess.run(
            [str(bindir / "pg_ctl"), "-D", str(pgdata), "-m", "fast", "-w", "stop"],
            check=False,
            capture_output=True,
            user=user,
        )
        if ephemeral:
            owned = pgdata.parent.name.startswith("testgenie-pg-")  # the fallback folder made above
            shutil.rmtree(pgdata.parent if owned else pgdata, ignore_errors=True)

    url = f"postgresql://postgres@/postgres?host={socket_dir}&port={port}"
    return PostgresServer(admin_url=url, kind="binaries", _stop=stop)


def _run(user: str | None, *command: str) -> None:
    done = subprocess.run(command, check=False, capture_output=True, text=True, user=user)
    if done.returncode != 0:
        raise RuntimeError(
            f"{Path(command[0]).name} failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}"
        )


def _traversable_by(path: Path, user: str) -> bool:
    """Whether `user` can reach `path` (every existing ancestor searchable by it)."""
    entry = pwd.getpwnam(user)
    for folder in [path, *path.parents]:
        if not folder.exists():
            continue
        info = folder.stat()
        if info.st_uid == entry.pw_uid:
            mode_bit = stat.S_IXUSR
        elif info.st_gid == entry.pw_gid:
            mode_bit = stat.S_IXGRP
        else:
            mode_bit = stat.S_IXOTH
        if not info.st_mode & mode_bit:
            return False
    return True


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def with_database(url: str, dbname: str) -> str:
    """The same server, another database."""
    params = psycopg.conninfo.conninfo_to_dict(url)
    params["dbname"] = dbname
    return psycopg.conninfo.make_conninfo(**{k: str(v) for k, v in params.items() if v is not None})


def create_database(admin_url: str, prefix: str = "testgenie_test") -> str:
    """Create a fresh, uniquely named database and return its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return with_database(admin_url, name)


def ensure_database(admin_url: str, name: str) -> str:
    """Create the named database if missing (the serve stack's persistent database)."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return with_database(admin_url, name)


def drop_database(admin_url: str, url: str) -> None:
    name = psycopg.conninfo.conninfo_to_dict(url)["dbname"]
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(str(name))))
