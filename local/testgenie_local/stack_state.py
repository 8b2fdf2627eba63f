"""Which local stack owns a data dir: its lock, and the `stack.json` the CLI and `push` read.

A running stack holds an exclusive flock on `<data-dir>/stack.lock` for its whole life, so a second
stack on the same data dir (the same embedded PostgreSQL) refuses to start; the kernel drops the
lock when the process ends, however it ends, so a crashed stack blocks nobody. `stack.json` names the
running stack's URLs; its owner removes it on the way out, and a reader ignores one whose process is
gone (docs/local-stack.md).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from pathlib import Path
from typing import Any

STATE_FILE = "stack.json"
LOCK_FILE = "stack.lock"


class DataDirInUse(Exception):
    """Another live stack holds the data dir; the message names it and the way out."""


def read_state(data_dir: Path) -> dict[str, Any] | None:
    """The data dir's `stack.json` as written, or None (missing or unreadable)."""
    try:
        info = json.loads((data_dir / STATE_FILE).read_text())
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) else None


def running_stack(data_dir: Path) -> dict[str, Any] | None:
    """The `stack.json` of a stack that is still running, or None (none, or its process is gone)."""
    info = read_state(data_dir)
    if info is None:
        return None
    pid = info.get("pid")
    if isinstance(pid, int) and not _alive(pid):
        return None  # left behind by a stack that was killed
    return info


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    return True


class DataDirLock:
    """The exclusive lock a stack holds on its data dir while it runs."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self._fd: int | None = None

    def acquire(self) -> None:
        path = self.data_dir / LOCK_FILE
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)  # not inherited by children (PEP 446)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 64).decode(errors="replace").strip()
            os.close(fd)
            raise DataDirInUse(self._in_use_message(holder)) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def _in_use_message(self, holder: str) -> str:
        info = read_state(self.data_dir)
        where = self.data_dir
        if info is not None and str(info.get("pid")) == holder and info.get("api_url"):
            first = f"the stack at {info['api_url']} (pid {holder})"
        else:
            first = f"another stack that is still starting (pid {holder or '?'})"
        return (
            f"the data dir {where} is in use by {first}: use that stack, stop it first, "
            "or give this one another --data-dir"
        )

    def write_state(self, info: dict[str, Any]) -> None:
        path = self.data_dir / STATE_FILE
        tmp = path.with_name(f".{STATE_FILE}.{os.getpid()}")
        tmp.write_text(json.dumps(info, indent=2) + "\n")
        tmp.chmod(0o600)  # it names the local AWS endpoint: for this stack's user only
        os.replace(tmp, path)  # a reader never sees half a file

    def release(self) -> None:
        """Remove our `stack.json` (only ours: the lock says no other stack wrote it), then unlock."""
        if self._fd is None:
            return
        info = read_state(self.data_dir)
        if info is not None and info.get("pid") == os.getpid():
            with contextlib.suppress(FileNotFoundError):
                (self.data_dir / STATE_FILE).unlink()
        os.close(self._fd)  # the lock goes with the descriptor; the file stays (no unlink race)
        self._fd = None
