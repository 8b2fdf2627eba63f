"""Commands run in their own process group; a timeout kills every descendant; output is logged and capped."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest
from testgenie.orchestrator.models import Classification
from testgenie.orchestrator.phases.base import LogBuffer, PhaseTimeout
from testgenie.orchestrator.phases.process import (
    CommandResult,
    classify_failure,
    run_command,
    stop_process_group,
    wait_for_exit,
)

from tests.support.orchestrator import wait_until_gone

ENV = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}


def run(
    command: str | list[str], tmp_path: Path, seconds: float = 60.0, log: LogBuffer | None = None
) -> CommandResult:
    return run_command(
        command,
        cwd=tmp_path,
        env=ENV,
        deadline=time.monotonic() + seconds,
        log=log or LogBuffer(),
        scratch_dir=tmp_path,
    )


def test_success_and_output_in_the_log(tmp_path: Path) -> None:
    log = LogBuffer()
    result = run("echo hello; echo oops >&2", tmp_path, log=log)
    assert result.ok
    text = log.getvalue().decode()
    assert "$ echo hello; echo oops >&2" in text
    assert "hello\n" in text
    assert "oops\n" in text
    assert "exit code 0" in text


def test_argv_commands_run_without_a_shell(tmp_path: Path) -> None:
    log = LogBuffer()
    assert run(["echo", "$HOME;", "x"], tmp_path, log=log).ok
    assert "$HOME; x" in log.getvalue().decode()


def test_exit_codes_are_classified(tmp_path: Path) -> None:
    missing = run("definitely-not-a-command-xyz", tmp_path)
    assert missing.returncode == 127
    assert classify_failure(missing).classification == Classification.MISSING_DEPENDENCY
    assert classify_failure(run(["definitely-not-a-command-xyz"], tmp_path)).classification == (
        Classification.MISSING_DEPENDENCY
    )
    (tmp_path / "noexec.sh").write_text("echo hi\n")
    assert classify_failure(run("./noexec.sh", tmp_path)).classification == Classification.MISCONFIGURATION
    no_module = classify_failure(run(["python3", "-c", "import surely_not_installed_xyz"], tmp_path))
    assert no_module.classification == Classification.MISSING_DEPENDENCY
    assert '"python": {"requirements"' in no_module.remediation
    assert "testgenie push" in no_module.remediation
    failing = run("exit 3", tmp_path)
    assert failing.returncode == 3
    assert classify_failure(failing).classification == Classification.TEST_FAILURE
    killed = run("kill -SEGV $$", tmp_path)
    assert classify_failure(killed).classification == Classification.SYSTEM


def test_environment_is_exactly_the_one_given(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://secret")
    log = LogBuffer()
    run("env", tmp_path, log=log)
    lines = set(log.getvalue().decode().splitlines())
    assert "PATH=/usr/bin:/bin" in lines
    assert not any(line.startswith("DATABASE_URL") for line in lines)


def test_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    script = f"sleep 300 & echo $! > {pids}; (sleep 300 & echo $! >> {pids}; wait) & sleep 300"
    log = LogBuffer()
    with pytest.raises(PhaseTimeout):
        run(script, tmp_path, seconds=0.5, log=log)
    children = [int(pid) for pid in pids.read_text().split()]
    assert len(children) == 2
    for pid in children:
        assert wait_until_gone(pid), f"process {pid} outlived the timeout"
    assert "killed after" in log.getvalue().decode()


def test_background_children_of_a_finished_command_are_killed(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    assert run(f"sleep 300 & echo $! > {pids}", tmp_path).ok
    assert wait_until_gone(int(pids.read_text()))


def test_no_time_left_does_not_start_the_command(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    with pytest.raises(PhaseTimeout):
        run(f"touch {marker}", tmp_path, seconds=-1)
    assert not marker.exists()


def test_log_buffer_keeps_head_and_tail_with_a_visible_note() -> None:
    log = LogBuffer(cap_bytes=4096)
    log.write(b"HEAD" + b"x" * 10_000)
    log.write(b"y" * 5000 + b"TAIL")
    data = log.getvalue()
    assert data.startswith(b"HEAD")
    assert data.endswith(b"TAIL")
    assert b"bytes truncated by test-genie" in data
    assert len(data) < 4096 + 200
    assert log.dropped == 4 + 10_000 + 5000 + 4 - 4096


def test_huge_output_is_capped(tmp_path: Path) -> None:
    log = LogBuffer(cap_bytes=64 * 1024)
    assert run("head -c 3000000 /dev/zero | tr '\\0' 'a'; echo; echo LAST-LINE", tmp_path, log=log).ok
    data = log.getvalue()
    assert len(data) < 70 * 1024
    assert b"LAST-LINE" in data
    assert b"truncated by test-genie" in data


def test_runaway_output_stops_the_command(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    log = LogBuffer(cap_bytes=8192)
    result = run_command(
        f"echo $$ > {pids}; while :; do head -c 100000 /dev/zero | tr '\\0' 'z'; done",
        cwd=tmp_path,
        env=ENV,
        deadline=time.monotonic() + 60,
        log=log,
        max_output_bytes=50_000,
    )
    assert result.output_limit_exceeded
    failure = classify_failure(result)
    assert failure.classification == Classification.MISCONFIGURATION
    assert "more output than the limit" in failure.message
    assert "wrote more than 50000 bytes" in log.getvalue().decode()
    assert wait_until_gone(int(pids.read_text()))


@pytest.mark.skipif(not hasattr(os, "pidfd_open"), reason="needs pidfd (Linux)")
def test_an_exited_leader_stays_unreaped_until_its_group_is_killed() -> None:
    # While the leader is an unreaped zombie its pid (the group id) cannot be reused, so the
    # group-wide SIGKILL that follows can never reach another process's group.
    proc = subprocess.Popen(["/bin/sh", "-c", "exit 3"], start_new_session=True)

    assert wait_for_exit(proc, 10.0) is True
    assert proc.returncode is None
    assert os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None

    stop_process_group(proc, grace=0.0)
    assert proc.returncode == 3
