"""How the CLI finds the API, and the data dir's lock that keeps a second stack off a running one's data."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from testgenie_local.cli import build_parser, main
from testgenie_local.commands.common import api_target, in_cli_words
from testgenie_local.stack_state import DataDirInUse, DataDirLock, running_stack


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _state(data_dir: Path, **info: object) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "stack.json").write_text(json.dumps(info))


def test_the_api_url_comes_from_the_flag_the_variable_the_running_stack_then_the_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TESTGENIE_API_URL", raising=False)
    parse = build_parser().parse_args
    assert api_target(parse(["history"])).url == "http://127.0.0.1:3000"
    _state(tmp_path / ".testgenie-data", api_url="http://127.0.0.1:18600", pid=os.getpid())
    found = api_target(parse(["history"]))
    assert (found.url, found.source) == (
        "http://127.0.0.1:18600",
        "the local stack's .testgenie-data/stack.json",
    )
    monkeypatch.setenv("TESTGENIE_API_URL", "http://127.0.0.1:4000")
    assert api_target(parse(["history"])).url == "http://127.0.0.1:4000"
    assert api_target(parse(["--api-url", "http://127.0.0.1:5000", "history"])).url == "http://127.0.0.1:5000"


def test_a_stack_json_left_by_a_dead_stack_is_ignored(tmp_path: Path) -> None:
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    _state(tmp_path, api_url="http://127.0.0.1:18601", pid=int(dead.stdout))
    assert running_stack(tmp_path) is None
    _state(tmp_path, api_url="http://127.0.0.1:18601", pid=os.getpid())
    assert running_stack(tmp_path) == {"api_url": "http://127.0.0.1:18601", "pid": os.getpid()}


def test_an_unreachable_api_names_the_url_where_it_came_from_and_the_flags(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TESTGENIE_API_URL", raising=False)
    port = _free_port()
    _state(tmp_path / ".testgenie-data", api_url=f"http://127.0.0.1:{port}", pid=os.getpid())
    assert main(["scenarios"]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"error: cannot reach the Test Genie API at http://127.0.0.1:{port}: ")
    assert "from the local stack's .testgenie-data/stack.json" in line
    assert "--api-url URL or TESTGENIE_API_URL" in line


def test_api_field_names_become_the_cli_flags() -> None:
    assert (
        in_cli_words("400: the execution has no failed phases; rerun it without failedOnly")
        == "400: the execution has no failed phases; rerun it without --failed-only"
    )
    assert in_cli_words("failFast must be a boolean") == "--fail-fast must be a boolean"
    assert in_cli_words("scenario 'failedOnlyX' was not found") == "scenario 'failedOnlyX' was not found"


def test_a_second_stack_on_the_same_data_dir_is_refused_naming_the_first(tmp_path: Path) -> None:
    first = DataDirLock(tmp_path)
    first.acquire()
    first.write_state({"api_url": "http://127.0.0.1:18602", "pid": os.getpid()})
    with pytest.raises(DataDirInUse, match=r"in use by the stack at http://127\.0\.0\.1:18602 \(pid \d+\)"):
        DataDirLock(tmp_path).acquire()
    first.release()
    assert not (tmp_path / "stack.json").exists()  # the stopped stack leaves no URL behind
    second = DataDirLock(tmp_path)
    second.acquire()  # free again
    second.release()


_HOLDER = """
import sys, time
from pathlib import Path
from testgenie_local.stack_state import DataDirLock
lock = DataDirLock(Path(sys.argv[1]))
lock.acquire()
lock.write_state({"api_url": "http://127.0.0.1:18603", "pid": __import__("os").getpid()})
print("locked", flush=True)
time.sleep(300)
"""


def test_a_killed_stack_blocks_nobody(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(DataDirInUse, match="18603"):
            DataDirLock(tmp_path).acquire()
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=60)
    assert running_stack(tmp_path) is None  # its stack.json stays, but names a dead process
    after = DataDirLock(tmp_path)
    after.acquire()
    after.release()
