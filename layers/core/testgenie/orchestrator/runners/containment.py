"""Nothing a command started outlives it: not its process group, not `setsid` or double-forked children.

Two nets, both Linux /proc based:
- Every command carries a private token in its environment (TESTGENIE_COMMAND_TOKEN); after it
  ends, every process whose /proc/<pid>/environ holds that token is killed. `setsid` and double
  forks inherit the environment, so this works in any process, even one running several runs.
- A dedicated runner process (RunnerFunction, the local runner) calls become_runner_process() once:
  it becomes a child subreaper (prctl PR_SET_CHILD_SUBREAPER), so orphans are re-parented to it
  instead of init, and after each command every descendant of the process is killed and reaped —
  including a child that cleared its environment. Only a process that runs one execution at a time
  may do this (docs/architecture.md).

A runner process is also made non-dumpable (prctl PR_SET_DUMPABLE 0): a command of the same user
can then neither ptrace it, nor read its memory, nor copy its invocation and answer pipes with
pidfd_getfd. Where the runner owns its whole sandbox (a Lambda environment, or the local
bubblewrap sandbox with its own pid namespace) the sweep is `kill(-1, SIGKILL)`: every other process
of the sandbox, whatever its session, parent or environment, and no /proc scan per command.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import secrets
import signal
import sys
import time
from pathlib import Path

TOKEN_ENV = "TESTGENIE_COMMAND_TOKEN"  # noqa: S105 - a variable name, not a secret
PR_SET_CHILD_SUBREAPER = 36
PR_SET_DUMPABLE = 4
# Set by the local runner host when the runner is alone in its pid namespace; on Lambda the runtime's
# own AWS_LAMBDA_RUNTIME_API says the same (a local runner never has it).
SANDBOX_ENV = "TESTGENIE_RUNNER_SANDBOX"
_MAX_ROUNDS = 20  # a fork loop is outrun by SIGSTOP + SIGKILL rounds
_REAP_POLLS = 1000  # 5 ms each: a killed process that takes longer is left to the next round
_PROC = Path("/proc")
_state = {"runner": False, "owns_sandbox": False}


def _prctl(option: int, value: int) -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(option, value, 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def owns_sandbox(environ: dict[str, str] | None = None) -> bool:
    """True where every other process this runner may signal is one its invocations started."""
    env = os.environ if environ is None else environ
    return env.get(SANDBOX_ENV) == "pid-namespace" or bool(env.get("AWS_LAMBDA_RUNTIME_API"))


def become_runner_process() -> bool:
    """Make this process the reaper of everything its commands start, and non-dumpable, before any
    scenario command runs. True when both prctl calls succeeded."""
    _state["runner"] = True
    _state["owns_sandbox"] = owns_sandbox()
    sealed = _prctl(PR_SET_DUMPABLE, 0)
    return _prctl(PR_SET_CHILD_SUBREAPER, 1) and sealed


def is_runner_process() -> bool:
    return _state["runner"]


def end_every_other_process() -> int:
    """Where the runner owns its sandbox: SIGKILL every other process in it, reap them, and say how
    many were reaped. Elsewhere nothing (a shared machine's other processes are not ours)."""
    if not (_state["runner"] and _state["owns_sandbox"]):
        return 0
    reaped = 0
    for _ in range(_MAX_ROUNDS):  # again while a round found any: a process forking meanwhile is caught
        # kill(-1) reaches every process this one may signal but itself and the namespace's init;
        # orphans were re-parented to this subreaper, so each one is reaped here.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(-1, signal.SIGKILL)
        found = _reap_all(_REAP_POLLS)
        reaped += found
        if not found:
            break
    return reaped


def _reap_all(polls: int) -> int:
    """Reap every child (all were sent SIGKILL, which cannot be ignored); at most `polls` short waits."""
    reaped = 0
    for _ in range(polls):
        try:
            pid, _status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:
            time.sleep(0.005)
            continue
        reaped += 1
    return reaped


def new_token() -> str:
    return secrets.token_hex(16)


def parent_map() -> dict[int, int]:
    """pid -> parent pid of every process visible in /proc."""
    parents: dict[int, int] = {}
    if not _PROC.is_dir():
        return parents
    for entry in _PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[-1].split()
        parents[int(entry.name)] = int(fields[1])
    return parents


def descendants(root: int, parents: dict[int, int] | None = None) -> list[int]:
    """Every descendant of `root`, parents before their children."""
    parents = parent_map() if parents is None else parents
    children: dict[int, list[int]] = {}
    for pid, ppid in parents.items():
        children.setdefault(ppid, []).append(pid)
    found: list[int] = []
    frontier = [root]
    while frontier:
        kids = children.get(frontier.pop(), [])
        found.extend(kids)
        frontier.extend(kids)
    return found


def _carrying(token: str) -> list[int]:
    needle = f"{TOKEN_ENV}={token}".encode()
    me = os.getpid()
    found = []
    for entry in _PROC.iterdir() if _PROC.is_dir() else []:
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        with contextlib.suppress(OSError):
            if needle in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
    return found


def _signal_all(pids: list[int], sig: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def _reap_children() -> None:
    """Collect the zombies of killed orphans that were re-parented to this (subreaper) process."""
    me = os.getpid()
    for pid, ppid in parent_map().items():
        if ppid == me:
            with contextlib.suppress(ChildProcessError, OSError):
                os.waitpid(pid, os.WNOHANG)


def sweep(token: str, exclude: frozenset[int] = frozenset()) -> int:
    """Kill what a finished command left behind; returns how many processes were killed.

    Each round freezes (SIGSTOP) then kills what it finds, so a process cannot fork faster than
    it is stopped; rounds repeat until one finds nothing.
    """
    if _state["runner"] and _state["owns_sandbox"] and not exclude:
        return end_every_other_process()
    killed = 0
    for _ in range(_MAX_ROUNDS):
        victims = set(_carrying(token))
        if _state["runner"]:
            victims.update(descendants(os.getpid()))
        victims -= exclude
        victims = {pid for pid in victims if not _is_zombie(pid)}
        if not victims:
            break
        ordered = sorted(victims)
        _signal_all(ordered, signal.SIGSTOP)
        _signal_all(ordered, signal.SIGKILL)
        killed += len(ordered)
        if _state["runner"]:
            _reap_children()
    if _state["runner"]:
        _reap_children()
    return killed


def _is_zombie(pid: int) -> bool:
    try:
        stat = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return True  # gone
    return stat.rsplit(")", 1)[-1].split()[0] in {"Z", "X"}
