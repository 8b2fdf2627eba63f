"""Drills: nothing a run started survives it, and the output cap holds even against a fast writer.

The survivors are the classic escapes: `setsid` (a new session, so the group kill misses it), a
double fork (the grandchild is re-parented away from the command), and — in a dedicated runner
process — a child that also cleared its environment.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from testgenie.orchestrator.phases.base import LogBuffer
from testgenie.orchestrator.phases.process import run_command

REPO = Path(__file__).resolve().parents[2]

ENV = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in {"Z", "X"}


def _pids(path: Path) -> list[int]:
    return [int(line) for line in path.read_text().split()]


def _run(command: str, tmp_path: Path, **kwargs: int) -> tuple[bool, str]:
    log = LogBuffer()
    result = run_command(
        command,
        cwd=tmp_path,
        env=ENV,
        deadline=time.monotonic() + 60,
        log=log,
        scratch_dir=tmp_path,
        **kwargs,
    )
    return result.ok, log.getvalue().decode()


def test_setsid_and_double_forked_survivors_are_gone_when_the_command_ends(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    script = (
        f"setsid sleep 300 & echo $! >> {pids}; "
        f"sh -c 'sleep 301 & echo $! >> {pids}' & wait $!; "  # the double fork: its parent is gone
        f"setsid sh -c 'sleep 302 & echo $! >> {pids}; exec sleep 303' & echo $! >> {pids}; "
        f"while [ $(wc -l < {pids}) -lt 4 ]; do sleep 0.01; done"
    )
    ok, log = _run(script, tmp_path)
    assert ok, log
    survivors = _pids(pids)
    assert len(survivors) == 4
    # Not polled: the sweep is synchronous — when run_command returns, they are dead.
    assert [pid for pid in survivors if _alive(pid)] == []
    assert "process(es) the command left running" in log


def test_a_survivor_that_is_slow_to_die_is_gone_when_the_command_ends(tmp_path: Path) -> None:
    # SIGKILL only queues the death: a process holding 1 GiB takes a while to unmap it, and on a
    # busy machine any victim may wait for a CPU. The sweep waits for each exit (pidfd), so the check
    # right after run_command never sees a survivor still dying.
    pids = tmp_path / "pids"
    ready = tmp_path / "ready"
    hog = f"import pathlib, time; b = b'x' * (1 << 30); pathlib.Path('{ready}').touch(); time.sleep(300)"
    script = f'setsid python3 -c "{hog}" & echo $! >> {pids}; while [ ! -e {ready} ]; do sleep 0.01; done'
    ok, log = _run(script, tmp_path)
    assert ok, log
    (survivor,) = _pids(pids)
    assert not _alive(survivor)


RUNNER = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    from testgenie.orchestrator.phases.base import LogBuffer
    from testgenie.orchestrator.phases.containment import become_runner_process
    from testgenie.orchestrator.phases.process import run_command

    subreaper = become_runner_process()
    work = Path(sys.argv[1])
    log = LogBuffer()
    result = run_command(sys.argv[2], cwd=work, env={"PATH": "/usr/bin:/bin"},
                         deadline=time.monotonic() + 60, log=log)
    print(json.dumps({"subreaper": subreaper, "ok": result.ok, "log": log.getvalue().decode()}))
    """
)


def test_a_runner_process_reaps_survivors_that_cleared_their_environment(tmp_path: Path) -> None:
    # `env -i` drops the command's token, so only the subreaper net can find this one.
    pids = tmp_path / "pids"
    script = (
        f"env -i setsid sh -c 'sleep 300 & echo $! >> {pids}; exec sleep 301' & echo $! >> {pids}; "
        f"while [ $(wc -l < {pids}) -lt 2 ]; do sleep 0.01; done"
    )
    out = subprocess.run(
        [sys.executable, "-c", RUNNER, str(tmp_path), script],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO / "layers" / "core")},
    )
    answer = json.loads(out.stdout)
    assert answer["subreaper"] is True
    assert answer["ok"], answer["log"]
    survivors = _pids(pids)
    assert len(survivors) == 2
    assert [pid for pid in survivors if _alive(pid)] == []


def test_the_output_cap_is_enforced_by_rlimit_fsize_and_sigkill(tmp_path: Path) -> None:
    # A file written by the command is capped too: the write past the cap fails (SIGXFSZ).
    ok, log = _run(f"head -c 3000000 /dev/zero > {tmp_path / 'big'}", tmp_path, max_output_bytes=1_000_000)
    assert not ok
    assert (tmp_path / "big").stat().st_size <= 1_000_001
    # stdout past the cap: the command is killed, no matter how fast it writes.
    ok, log = _run("head -c 50000000 /dev/zero; sleep 300", tmp_path, max_output_bytes=1_000_000)
    assert not ok
    assert "wrote more than 1000000 bytes" in log
