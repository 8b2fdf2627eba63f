"""The spy: a scenario's test that hunts for the service's keys from inside the runner.

It is what an attacker's scenario would do, so it knows no secret: it dumps every process
environment it can read (its own, /proc/*/environ, its parent chain) and every line of the files it
can read that looks like a key, and the drill judges what came out. It never fails on purpose:
the judge is tests/e2e/test_spy_drill.py. Standard library only (it runs in the runner's interpreter).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

LOOKS_LIKE_A_KEY = (
    b"DATABASE_URL",
    b"postgresql://",
    b"AWS_SECRET_ACCESS_KEY",
    b"AWS_SESSION_TOKEN",
    b"ARTIFACTS_UPLOAD_SECRET",
    b"DATABASE_SECRET_ARN",
    b"SPY-CANARY",
)
SKIP_DIRS = {".git", "__pycache__", "node_modules", ".mypy_cache", ".ruff_cache", ".pytest_cache"}
MAX_FILE_BYTES = 2 * 1024 * 1024
MAX_FILES = 60_000
MAX_HITS = 800


def environ_of(pid: str) -> dict[str, str] | None:
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return None
    pairs = (item.decode("utf-8", "replace").partition("=") for item in raw.split(b"\0") if item)
    return {key: value for key, _, value in pairs}


def parent_of(pid: str) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    parent = stat.rsplit(")", 1)[1].split()[1]
    return None if parent == "0" else parent


def cmdline_of(pid: str) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
    except OSError:
        return ""


def uid_of(pid: str) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("Uid:"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def parent_chain() -> list[dict[str, object]]:
    chain: list[dict[str, object]] = []
    pid: str | None = str(os.getpid())
    while pid is not None:
        chain.append(
            {"pid": pid, "uid": uid_of(pid), "cmdline": cmdline_of(pid)[:300], "environ": environ_of(pid)}
        )
        pid = parent_of(pid)
    return chain


def all_environs() -> tuple[int, dict[str, dict[str, str]]]:
    pids = [entry.name for entry in Path("/proc").iterdir() if entry.name.isdigit()]
    readable = {pid: env for pid in pids if (env := environ_of(pid)) is not None}
    return len(pids), readable


def search_files(roots: list[str]) -> tuple[int, list[str]]:
    checked, hits = 0, list[str]()
    for root in roots:
        for folder, dirs, files in os.walk(root, onerror=lambda _err: None):
            dirs[:] = [d for d in dirs if d not in SKIP_DIRS and not d.startswith(".venv")]
            for name in files:
                path = os.path.join(folder, name)
                if checked >= MAX_FILES:
                    return checked, hits
                try:
                    if os.path.islink(path) or os.path.getsize(path) > MAX_FILE_BYTES:
                        continue
                    with open(path, "rb") as handle:
                        data = handle.read()
                except OSError:
                    continue
                checked += 1
                if not any(marker in data for marker in LOOKS_LIKE_A_KEY):
                    continue
                for line in data.splitlines():
                    if any(marker in line for marker in LOOKS_LIKE_A_KEY) and len(hits) < MAX_HITS:
                        hits.append(f"{path}: {line[:200].decode('utf-8', 'replace')}")
    return checked, hits


def main() -> int:
    roots = json.loads(Path(__file__).with_name("roots.json").read_text())
    chain = parent_chain()
    roots += [f"/proc/{link['pid']}/cwd" for link in chain[1:]]
    total, readable = all_environs()
    checked, hits = search_files(roots)
    report = {
        "uid": os.getuid(),
        "own_environ": dict(os.environ),
        "parents": chain,
        "processes": total,
        "readable_environs": readable,
        "files_checked": checked,
        "file_hits": hits,
    }
    sys.stdout.write("SPY-REPORT " + json.dumps(report) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
