"""The spy drill: a scenario searches everything it can reach for the service's keys and finds none.

The spy (tests/e2e/spy/spy.py) knows no secret: it dumps its environment, every /proc/*/environ it
can read, its parent chain and every key-looking line of the files it can read (the repository,
the stack's data folder, /tmp, /var/tmp, root's home). The judge here knows the secrets (it reads
the stack's own environment as root) and looks for them in the spy's report. Run as root, as CI
does: a stack started by another user cannot drop privileges and says so (docs/architecture.md).

In the bubblewrap sandbox (the default) the spy sees only its own processes and no file of the
host; with --unsafe-shared-runner it runs as `nobody` and sees the machine, but still no key.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from tests.support.paths import REPO_ROOT
from tests.support.stack import TERMINAL, start_stack
from tests.support.tools import missing_tool

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(os.geteuid() != 0, reason="only a stack started as root runs the runner as nobody"),
]

SPY = Path(__file__).resolve().parent / "spy" / "spy.py"
SECRET_NAMES = {
    "DATABASE_URL",
    "DATABASE_SECRET_ARN",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "ARTIFACTS_UPLOAD_SECRET",
}
# Shorter values are public words (the local moto credentials are "testing"), not secrets.
MIN_SECRET_CHARS = 12


def _with_password(url: str, password: str) -> str:
    """The URL with a password the server ignores (trust auth), so the drill has one to look for."""
    parts = urlsplit(url)
    user = parts.username or "postgres"
    host = parts.hostname or "127.0.0.1"
    netloc = f"{user}:{password}@{host}" + (f":{parts.port}" if parts.port else "")
    candidate = urlunsplit(parts._replace(netloc=netloc))
    try:
        psycopg.connect(candidate, connect_timeout=5).close()
    except psycopg.Error:
        return url
    return candidate


def _environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    return dict(item.decode().partition("=")[::2] for item in raw.split(b"\0") if item)


@pytest.fixture
def canary() -> Iterator[str]:
    """A key-looking line in a world-readable file: the spy must find it, or its search is blind."""
    folder = Path(tempfile.mkdtemp(prefix="testgenie-spy-canary-", dir="/var/tmp"))
    folder.chmod(0o755)
    token = f"SPY-CANARY {uuid.uuid4().hex}"
    (folder / "canary.env").write_text(token + "\n")
    (folder / "canary.env").chmod(0o644)
    yield token
    shutil.rmtree(folder, ignore_errors=True)


def _spy_scenario(root: Path, roots: list[str]) -> None:
    spy = root / "spy"
    (spy / ".testgenie").mkdir(parents=True)
    (spy / ".testgenie" / "testing.json").write_text(
        json.dumps({"phases": {"unit": {"commands": ["python3 spy.py"]}}})
    )
    shutil.copy(SPY, spy / "spy.py")
    (spy / "roots.json").write_text(json.dumps(roots))


@pytest.mark.parametrize("sandbox", ["bubblewrap", "shared"])
def test_the_spy_finds_no_key_of_the_service(
    tmp_path: Path, fresh_database: Callable[[], str], canary: str, sandbox: str
) -> None:
    if sandbox == "bubblewrap" and shutil.which("bwrap") is None:
        missing_tool("bubblewrap (make sandbox installs it)")
    data = tmp_path / "data"
    _spy_scenario(tmp_path / "scenarios", [str(REPO_ROOT), str(data), "/tmp", "/var/tmp", "/root"])
    password = f"spy{uuid.uuid4().hex}"
    database_url = _with_password(fresh_database(), password)
    upload_key = secrets.token_hex(32)
    stack = start_stack(
        tmp_path / "work",
        tmp_path / "scenarios",
        database_url,
        data_dir=data,
        args=("--unsafe-shared-runner",) if sandbox == "shared" else (),
        ARTIFACTS_UPLOAD_SECRET=upload_key,
        # "shared": as on a machine without bubblewrap.
        TESTGENIE_BWRAP="/nonexistent/bwrap" if sandbox == "shared" else "bwrap",
    )
    try:
        service_env = _environ(int(stack.info["pid"]))  # what the stack was started with
        request = stack.queue(scenarioName="spy", phases=["unit"])
        final = stack.wait_status(request["id"], TERMINAL)
        execution = stack.get(f"/executions/{final['executionId']}")
    finally:
        assert stack.stop() == 0, stack.tail()
    assert execution["outcome"] == "passed", execution
    log = (data / "artifacts" / "executions" / execution["executionId"] / "unit.log").read_text()
    (line,) = [line for line in log.splitlines() if line.startswith("SPY-REPORT ")]
    report: dict[str, Any] = json.loads(line.removeprefix("SPY-REPORT "))

    keys = {service_env[name] for name in SECRET_NAMES if len(service_env.get(name, "")) >= MIN_SECRET_CHARS}
    assert service_env["DATABASE_URL"] in keys
    assert upload_key in keys
    if password in database_url:
        keys.add(password)
    found = sorted(secret for secret in keys if secret in line)
    assert not found, "the spy found the service's keys"

    environs = [report["own_environ"], *report["readable_environs"].values()]
    environs += [link["environ"] for link in report["parents"] if link["environ"] is not None]
    assert not [sorted(SECRET_NAMES & set(env)) for env in environs if SECRET_NAMES & set(env)]

    assert report["uid"] not in (0, os.getuid())
    unreadable = [link for link in report["parents"] if link["environ"] is None]
    assert report["processes"] > len(report["readable_environs"]) > 0
    assert report["files_checked"] > 100
    if sandbox == "shared":
        # The spy really looked: from its non-dumpable runner up to a stack it could not read.
        assert str(stack.info["pid"]) in [link["pid"] for link in unreadable]
        assert any(canary in hit for hit in report["file_hits"])
        assert any(hit.startswith(str(REPO_ROOT / "layers" / "core")) for hit in report["file_hits"])
        return
    # In its sandbox: only its own pid namespace (the runner, non-dumpable, and bwrap's init as pid 1),
    # no file of the host (the world-readable canary is out of reach), only the runner's staged code.
    assert report["parents"][-1]["pid"] == "1"
    assert report["processes"] < 10
    assert "bootstrap.py" in unreadable[0]["cmdline"]
    assert not any(canary in hit for hit in report["file_hits"])
    assert not any(hit.startswith((str(REPO_ROOT), str(data))) for hit in report["file_hits"])
    assert any("/opt/python/testgenie/" in hit for hit in report["file_hits"])
