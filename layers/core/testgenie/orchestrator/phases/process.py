"""Commands in their own process group, swept when they end: nothing a command started outlives it.

The output cap is enforced twice: RLIMIT_FSIZE in the child (a write past the cap fails and the
writer gets SIGXFSZ) and a poll of the output file's size that SIGKILLs the group at once.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import resource
import select
import shlex
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from testgenie.orchestrator.models import Classification
from testgenie.orchestrator.phases.base import Failure, LogBuffer, PhaseContext, PhaseTimeout
from testgenie.orchestrator.phases.containment import TOKEN_ENV, PidWindow, new_token, pid_window, sweep

# Time a group gets between SIGTERM and SIGKILL to write its last words into the log.
TERM_GRACE_SECONDS = 2.0
_TAIL_BYTES = 8192
# Output is buffered in an anonymous file; a runaway command is stopped before it fills memory or disk.
MAX_OUTPUT_BYTES = 256 * 1024 * 1024
# util-linux's prlimit sets RLIMIT_FSIZE and execs the shell: without a preexec_fn, Popen can vfork,
# ~4 ms less per command than forking this interpreter to run Python in the child (docs/performance.md).
# Where it is missing (or for an argv command, whose missing program must still raise here) the
# limit is set by a preexec_fn.
_PRLIMIT = next((p for p in ("/usr/bin/prlimit", "/bin/prlimit") if os.access(p, os.X_OK)), None)

Command = str | Sequence[str]
# What the runner offers is listed in docs/scenarios.md ("What the runner offers").
MISSING_MODULE_REMEDIATION = (
    "The runner has Python 3.13 with only the toolchain (pytest and the plugins in "
    "layers/toolchain/requirements.txt). List the packages your tests import in a requirements file, "
    'declare it in .testgenie/testing.json as "python": {"requirements": "<file>"}, and publish the '
    "scenario with `testgenie push`, which vendors them into the bundle for the runner's platform."
)
MISSING_COMMAND_REMEDIATION = (
    "The runner offers /bin/sh, the basic POSIX tools and `python` (3.13, with the toolchain) — nothing "
    "else is installed. Call Python tools as `python -m <tool>` and declare them in the scenario's "
    'python requirements ("python": {"requirements": …} in testing.json, vendored by `testgenie push`), '
    "or ship the tool inside the scenario (exit code 127: the shell could not find it)."
)


@dataclass
class CommandResult:
    display: str
    returncode: int
    duration_ms: int
    tail: str  # the end of the output, for classification
    output_limit_exceeded: bool = False

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def display_command(command: Command) -> str:
    return command if isinstance(command, str) else shlex.join(command)


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _output_file(scratch_dir: Path | None) -> IO[bytes]:
    """An anonymous file for a command's output: in memory where Linux offers it, else a temp file."""
    if hasattr(os, "memfd_create"):
        with contextlib.suppress(OSError):
            return open(os.memfd_create("testgenie-output"), "w+b")
    return tempfile.TemporaryFile(dir=scratch_dir)


def wait_for_exit(
    proc: subprocess.Popen[bytes],
    timeout: float,
    keep_going: Callable[[], bool] | None = None,
    interval: float = 0.1,
) -> bool:
    """True when the process exited within `timeout`; False at the timeout or when keep_going() says no
    (asked every `interval` seconds while the process runs).

    Popen.wait(timeout) polls with growing sleeps (up to 50 ms late); a pidfd wakes up the moment the
    process exits, which is most of the orchestrator's overhead on short commands. With a pidfd the
    process is NOT reaped here (see stop_process_group); without one, Popen reaps it.
    """
    deadline = time.monotonic() + timeout
    pidfd = -1
    if hasattr(os, "pidfd_open"):
        with contextlib.suppress(OSError):
            pidfd = os.pidfd_open(proc.pid)
    try:
        poller = None
        if pidfd >= 0:
            poller = select.poll()
            poller.register(pidfd, select.POLLIN)
        while True:
            slice_seconds = max(0.0, min(deadline - time.monotonic(), interval))
            if poller is not None:
                if poller.poll(int(slice_seconds * 1000) + 1):
                    return True
            else:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=slice_seconds)
                    return True
            if time.monotonic() >= deadline or (keep_going is not None and not keep_going()):
                return False
    finally:
        if pidfd >= 0:
            os.close(pidfd)


def stop_process_group(proc: subprocess.Popen[bytes], grace: float = TERM_GRACE_SECONDS) -> None:
    """SIGTERM the group, give the leader `grace` seconds, then SIGKILL whatever is left, then reap.

    The leader is reaped last: while it is an unreaped zombie its pid, and so the group id, cannot be
    handed to another process, so the SIGKILL can never hit a stranger's group.
    """
    if grace > 0:
        _signal_group(proc.pid, signal.SIGTERM)
        wait_for_exit(proc, grace)
    _signal_group(proc.pid, signal.SIGKILL)
    proc.wait()


def run_command(
    command: Command,
    *,
    cwd: Path,
    env: dict[str, str],
    deadline: float,
    log: LogBuffer,
    scratch_dir: Path | None = None,
    max_output_bytes: int = MAX_OUTPUT_BYTES,
) -> CommandResult:
    """Run one command with its output in the log; raise PhaseTimeout (after killing it) at the deadline.

    A string runs through /bin/sh -c, a sequence runs as argv. Output goes to a file rather than a
    pipe so that a grandchild holding the pipe open can never hang the orchestrator.
    """
    display = display_command(command)
    argv, limit_file_size = _capped_argv(command, max_output_bytes + 1)
    log.line(f"$ {display}")
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise PhaseTimeout(f"no time left to run: {display}")
    started = time.monotonic()
    token = new_token()
    with _output_file(scratch_dir) as output:
        window = pid_window()  # the sweep looks only at processes created from here on
        proc = _start(argv, cwd, {**env, TOKEN_ENV: token}, output, limit_file_size, log)
        if isinstance(proc, CommandResult):
            return dataclasses.replace(proc, display=display)
        run = _watch(proc, remaining, output, max_output_bytes, token, window)
        duration_ms = int((time.monotonic() - started) * 1000)
        size, tail = _drain(output, log)
    return _verdict(display, proc.returncode, run, size, tail, duration_ms, max_output_bytes, log)


@dataclass(frozen=True)
class _Watched:
    exited: bool  # by itself, before the deadline
    too_much_output: bool  # stopped by the output poll
    left_behind: int  # processes the sweep killed after the group


def _capped_argv(command: Command, file_limit: int) -> tuple[list[str], Callable[[], None] | None]:
    """The argv to start, and the preexec_fn that caps output when prlimit cannot (see _PRLIMIT)."""
    argv = ["/bin/sh", "-c", command] if isinstance(command, str) else list(command)
    if isinstance(command, str) and _PRLIMIT:
        return [_PRLIMIT, f"--fsize={file_limit}:{file_limit}", "--", *argv], None

    def limit_file_size() -> None:  # in the child, before exec: async-signal-safe syscalls only
        resource.setrlimit(resource.RLIMIT_FSIZE, (file_limit, file_limit))

    return argv, limit_file_size


def _start(
    argv: list[str],
    cwd: Path,
    env: dict[str, str],
    output: IO[bytes],
    preexec: Callable[[], None] | None,
    log: LogBuffer,
) -> subprocess.Popen[bytes] | CommandResult:
    """The started process, or the result of a command that could not start (127, 126)."""
    try:
        return subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so killpg reaches every descendant
            preexec_fn=preexec,
        )
    except FileNotFoundError as exc:
        log.line(f"command not found: {exc.filename or argv[0]}")
        return CommandResult("", 127, 0, f"command not found: {argv[0]}")
    except PermissionError as exc:
        log.line(f"permission denied: {exc}")
        return CommandResult("", 126, 0, str(exc))


def _watch(
    proc: subprocess.Popen[bytes],
    remaining: float,
    output: IO[bytes],
    max_output_bytes: int,
    token: str,
    window: PidWindow | None,
) -> _Watched:
    """Wait for the command (or its deadline, or its output cap); then stop its group and sweep."""
    too_much_output = False

    def output_within_limit() -> bool:
        nonlocal too_much_output
        too_much_output = os.fstat(output.fileno()).st_size > max_output_bytes
        return not too_much_output

    exited = False
    try:
        exited = wait_for_exit(proc, remaining, output_within_limit)
    finally:
        # Background children of a command that exited are killed too: no orphans. The leader is
        # reaped only after the group's SIGKILL, so the group id is still this command's. A
        # command over the output cap gets no grace: it could write gigabytes in two seconds.
        stop_process_group(proc, grace=0.0 if exited or too_much_output else TERM_GRACE_SECONDS)
        left_behind = sweep(token, since=window)
    return _Watched(exited, too_much_output, left_behind)


def _drain(output: IO[bytes], log: LogBuffer) -> tuple[int, str]:
    """Copy the output into the log; (its size, its tail for classification)."""
    size = output.seek(0, os.SEEK_END)
    output.seek(0)
    log.write_stream(output)
    output.seek(max(0, size - _TAIL_BYTES))
    return size, output.read().decode("utf-8", errors="replace")


def _verdict(
    display: str,
    returncode: int,
    run: _Watched,
    size: int,
    tail: str,
    duration_ms: int,
    max_output_bytes: int,
    log: LogBuffer,
) -> CommandResult:
    if run.left_behind:
        log.line(f"[test-genie] killed {run.left_behind} process(es) the command left running")
    if run.too_much_output or size > max_output_bytes or returncode == -signal.SIGXFSZ:
        log.line(f"[test-genie] killed: the command wrote more than {max_output_bytes} bytes of output")
        return CommandResult(display, -signal.SIGKILL, duration_ms, tail, output_limit_exceeded=True)
    if not run.exited:
        log.line(f"[test-genie] killed after {duration_ms} ms: the phase's time ran out")
        raise PhaseTimeout(f"command timed out: {display}")
    log.line(f"[test-genie] exit code {returncode} after {duration_ms} ms")
    return CommandResult(display, returncode, duration_ms, tail)


def classify_failure(result: CommandResult) -> Failure:
    """Why a command failed, and what to do about it."""
    text = f"`{result.display}` exited with code {result.returncode}"
    if result.output_limit_exceeded:
        return Failure(
            f"`{result.display}` was stopped: it wrote more output than the limit",
            Classification.MISCONFIGURATION,
            "Make the command less verbose, or have it write large output to a file.",
        )
    tail = result.tail.lower()
    if result.returncode == 127 or "command not found" in tail:
        return Failure(
            f"{text}: a command was not found on the runner",
            Classification.MISSING_DEPENDENCY,
            MISSING_COMMAND_REMEDIATION,
        )
    if "no module named" in tail:
        return Failure(
            f"{text}: a Python module is missing on the runner",
            Classification.MISSING_DEPENDENCY,
            MISSING_MODULE_REMEDIATION,
        )
    if result.returncode == 126:
        return Failure(
            f"{text}: not executable",
            Classification.MISCONFIGURATION,
            "Make the command executable (chmod +x) or call it through its interpreter.",
        )
    if result.returncode < 0:
        return Failure(
            f"`{result.display}` was killed by signal {-result.returncode}",
            Classification.SYSTEM,
            "The command crashed or was killed; refer to the phase log.",
        )
    return Failure(text, Classification.TEST_FAILURE, "Fix the failures reported in the phase log.")


def run_in_phase(ctx: PhaseContext, command: Command) -> CommandResult:
    return run_command(
        command,
        cwd=ctx.scenario_dir,
        env=ctx.env,
        deadline=ctx.deadline,
        log=ctx.log,
        scratch_dir=ctx.scratch_dir,
    )
