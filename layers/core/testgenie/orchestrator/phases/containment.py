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

Both nets look only at the processes created since the command started (a PidWindow: the kernel
hands out pids in increasing order, wrapping around), not at every process of the machine, when the
kernel's counters prove that the pid counter has not gone round once since; else at every process.

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
import select
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path

TOKEN_ENV = "TESTGENIE_COMMAND_TOKEN"  # noqa: S105 - a variable name, not a secret
PR_SET_CHILD_SUBREAPER = 36
PR_SET_DUMPABLE = 4
# Set by the local runner host when the runner is alone in its pid namespace; on Lambda the runtime's
# own AWS_LAMBDA_RUNTIME_API says the same (a local runner never has it).
SANDBOX_ENV = "TESTGENIE_RUNNER_SANDBOX"
_MAX_ROUNDS = 20  # a fork loop is outrun by SIGSTOP + SIGKILL rounds
# kill() only queues SIGKILL: a busy machine may take a while to run the victim's exit. The sweep
# waits for the exits (an event per process, not a guess at the machine's speed), up to this long.
_EXIT_WAIT_SECONDS = 30.0
_PROC = Path("/proc")
_state = {"runner": False, "owns_sandbox": False}
_REAP_POLLS = 1000  # 5 ms each: a killed process that takes longer is left to the next round
# After a wrap the kernel hands out pids from RESERVED_PIDS on (kernel/pid.c), up to pid_max.
_RESERVED_PIDS = 300
# An id stays in use while a task holds it, and a task holds at most four: its pid, tgid, pgid, sid.
_IDS_PER_TASK = 4


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


@dataclass(frozen=True)
class PidWindow:
    """Where the kernel's pid counter stood when a command started (docs/performance.md)."""

    last_pid: int  # the last pid handed out in this pid namespace
    forks: int  # tasks created since boot (/proc/stat `processes`)
    tasks: int  # tasks alive


def pid_window() -> PidWindow | None:
    """The counters now; None when they cannot be read or /proc is another pid namespace's."""
    try:
        if os.readlink(_PROC / "self") != str(os.getpid()):
            return None
        fields = (_PROC / "loadavg").read_text().split()  # "... running/tasks last_pid"
        with (_PROC / "stat").open() as stat:
            forks = next(int(line.split()[1]) for line in stat if line.startswith("processes "))
        return PidWindow(int(fields[4]), forks, int(fields[3].split("/")[1]))
    except (OSError, ValueError, IndexError, StopIteration):
        return None


def _pid_max() -> int:
    return int((_PROC / "sys" / "kernel" / "pid_max").read_text())


def created_since(window: PidWindow | None) -> list[int] | None:
    """Every live process created after `window` was taken, or None when that set cannot be bounded.

    The pid counter moves one id per new task plus one per id it skips because it is in use; while
    that travel is shorter than one turn (pid_max - RESERVED_PIDS), every pid handed out since lies
    on the arc (window.last_pid, now.last_pid] and no older process has a pid on it.
    """
    now = pid_window()
    if window is None or now is None:
        return None
    forks = now.forks - window.forks
    try:
        turn = _pid_max() - _RESERVED_PIDS
    except (OSError, ValueError):
        return None
    if forks < 0 or forks + _IDS_PER_TASK * (window.tasks + forks) >= turn:
        return None
    return [pid for pid in _all_pids() if on_arc(pid, window.last_pid, now.last_pid)]


def on_arc(pid: int, low: int, high: int) -> bool:
    """Was `pid` handed out after `low`, up to `high`, by a counter that may have wrapped once?"""
    return (low < pid <= high) if low <= high else (pid > low or pid <= high)


def _all_pids() -> list[int]:
    return [int(name) for name in os.listdir(_PROC) if name.isdigit()] if _PROC.is_dir() else []


def parent_map(pids: list[int] | None = None) -> dict[int, int]:
    """pid -> parent pid of `pids` (default: every process visible in /proc)."""
    parents: dict[int, int] = {}
    for pid in _all_pids() if pids is None else pids:
        try:
            stat = (_PROC / str(pid) / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[-1].split()
        parents[pid] = int(fields[1])
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


def _carrying(token: str, pids: list[int]) -> list[int]:
    needle = f"{TOKEN_ENV}={token}".encode()
    me = os.getpid()
    found = []
    for pid in pids:
        if pid == me:
            continue
        with contextlib.suppress(OSError):
            if needle in (_PROC / str(pid) / "environ").read_bytes().split(b"\0"):
                found.append(pid)
    return found


def _signal_all(pids: list[int], sig: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def _reap_children(pids: list[int] | None) -> None:
    """Collect the zombies of killed orphans that were re-parented to this (subreaper) process."""
    me = os.getpid()
    for pid, ppid in parent_map(pids).items():
        if ppid == me:
            with contextlib.suppress(ChildProcessError, OSError):
                os.waitpid(pid, os.WNOHANG)


def sweep(token: str, exclude: frozenset[int] = frozenset(), since: PidWindow | None = None) -> int:
    """Kill what a finished command left behind; returns how many processes were killed.

    `since`: the pid window taken before the command started (then only the processes created
    since are looked at). Each round freezes (SIGSTOP) then kills what it finds, so a process
    cannot fork faster than it is stopped; rounds repeat until one finds nothing.
    """
    if _state["runner"] and _state["owns_sandbox"] and not exclude:
        return end_every_other_process()
    killed = 0
    pids: list[int] | None = None
    for _ in range(_MAX_ROUNDS):
        pids = created_since(since)
        if pids is None:
            pids = _all_pids()
        victims = set(_carrying(token, pids))
        if _state["runner"]:
            victims.update(descendants(os.getpid(), parent_map(pids)))
        victims -= exclude
        victims = {pid for pid in victims if not _is_zombie(pid)}
        if not victims:
            break
        ordered = sorted(victims)
        _signal_all(ordered, signal.SIGSTOP)
        handles = _exit_handles(ordered)  # taken before the kill, so a reused pid is never awaited
        _signal_all(ordered, signal.SIGKILL)
        _await_exits(handles)
        killed += len(ordered)
        if _state["runner"]:
            _reap_children(pids)
    if _state["runner"]:
        _reap_children(pids)
    return killed


def _exit_handles(pids: list[int]) -> list[int]:
    """pidfds of the victims (Linux ≥ 5.3): each becomes readable once its process has exited."""
    handles = []
    for pid in pids:
        with contextlib.suppress(OSError, AttributeError):
            handles.append(os.pidfd_open(pid))
    return handles


def _await_exits(handles: list[int]) -> None:
    """Block until every killed process has exited (a zombie or gone), bounded by _EXIT_WAIT_SECONDS."""
    poller = select.poll()  # not select(): a busy process may hold descriptors above FD_SETSIZE
    for handle in handles:
        poller.register(handle, select.POLLIN)
    pending = set(handles)
    try:
        remaining = _EXIT_WAIT_SECONDS
        while pending and remaining > 0:
            started = time.monotonic()
            for handle, _event in poller.poll(remaining * 1000):
                poller.unregister(handle)
                pending.discard(handle)
            remaining -= time.monotonic() - started
    finally:
        for handle in handles:
            os.close(handle)


def _is_zombie(pid: int) -> bool:
    try:
        stat = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return True  # gone
    return stat.rsplit(")", 1)[-1].split()[0] in {"Z", "X"}
