"""The local RunnerFunction: every invocation is a separate process with a built environment.

The process runs the runner venv's interpreter (runner_venv.py, only the runner's declared
packages), gets no variable of this stack (no DATABASE_URL, no AWS keys: the environment is built,
not filtered), and reads the function's code from a staged copy, as Lambda reads /var/task and
/opt/python. Run as root (CI), it runs as `nobody`, so it cannot read /proc/<pid>/environ of the
stack or any other process, nor the stack's private files. When privileges cannot be dropped the
stack says once that local runs are not isolated (docs/architecture.md, "The runner").
"""

from __future__ import annotations

import collections
import contextlib
import getpass
import json
import logging
import os
import pwd
import select
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from testgenie.orchestrator.runners.containment import PidWindow, created_since, descendants, pid_window

from testgenie_local.lambda_endpoint import LambdaEndpoint
from testgenie_local.runner_venv import VENV_PARENT, ensure_runner_venv
from testgenie_local.template import FunctionSpec

log = logging.getLogger("testgenie.local.runner")
RUNNER_USER = "nobody"
_BOOTSTRAP = Path(__file__).with_name("runner_bootstrap.py")
_STAGE_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", ".mypy_cache", ".pytest_cache")
_STDERR_TAIL = 2000
# Powertools settings are the only variables of the stack's that the runner gets.
_QUIET = {
    "POWERTOOLS_SERVICE_NAME": "testgenie",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
    "POWERTOOLS_METRICS_DISABLED": "true",
    "POWERTOOLS_TRACE_DISABLED": "true",
}


@dataclass(frozen=True)
class RunnerIdentity:
    user: str
    uid: int | None = None  # None: the stack's own user (no privileges to drop)
    gid: int | None = None

    @property
    def isolated(self) -> bool:
        return self.uid is not None


def runner_identity() -> RunnerIdentity:
    """`nobody` when the stack runs as root; else the stack's own user (not isolated)."""
    if os.geteuid() != 0:
        return RunnerIdentity(getpass.getuser())
    try:
        entry = pwd.getpwnam(RUNNER_USER)
    except KeyError:
        return RunnerIdentity("root")
    return RunnerIdentity(RUNNER_USER, entry.pw_uid, entry.pw_gid)


def _readable_by_all(root: Path) -> None:
    for folder, dirs, files in os.walk(root):
        os.chmod(folder, 0o755)  # noqa: S103 - staged code the runner user must read (no secrets)
        for name in files:
            os.chmod(os.path.join(folder, name), 0o644)
        dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(folder, d))]


def _kill_session(sid: int, keep: int | None = None, since: PidWindow | None = None) -> None:
    """SIGKILL every process of a runner's session but `keep` (its commands run in groups of their own).

    `since`: only processes created after that window can be new members (older ones were killed
    by the previous sweep), so only those are looked at when the window holds.
    """
    pids = created_since(since)
    for pid in (
        pids if pids is not None else (int(e.name) for e in Path("/proc").iterdir() if e.name.isdigit())
    ):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == sid and pid != keep:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)


def _exit_error(returncode: int, stderr: bytes) -> bytes:
    how = f"signal {-returncode}" if returncode < 0 else f"exit status {returncode}"
    tail = stderr[-_STDERR_TAIL:].decode("utf-8", "replace").strip()
    message = f"Runtime exited with error: {how}" + (f": {tail}" if tail else "")
    return json.dumps({"errorType": "Runtime.ExitError", "errorMessage": message}).encode()


class _Environment:
    """One warm runner process (a Lambda execution environment): serves invocations one at a time."""

    def __init__(self, owner: LocalRunnerFunction) -> None:
        self.work = Path(tempfile.mkdtemp(dir=owner.root / "work", prefix="environment-"))
        ident = owner.identity
        if ident.uid is not None:
            os.chown(self.work, ident.uid, ident.gid or 0)
        self.proc = subprocess.Popen(
            [str(owner.python), "-P", str(owner.root / "bootstrap.py")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            bufsize=0,
            cwd=self.work,
            env=owner.environment_for(self.work),
            start_new_session=True,
            user=ident.uid,
            group=ident.gid,
            extra_groups=[] if ident.uid is not None else None,  # none of root's groups
        )
        self.stderr: collections.deque[bytes] = collections.deque(maxlen=200)
        self._buffer = bytearray()
        self._reader = threading.Thread(
            target=self._drain, name=f"{owner.spec.logical_id}-stderr", daemon=True
        )
        self._reader.start()
        self.name = owner.spec.logical_id

    def _drain(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.stderr.append(line)
            log.debug("%s: %s", self.name, line.decode("utf-8", "replace").rstrip())

    def _fill(self, deadline: float) -> None:
        """More of the answer pipe; TimeoutError at the deadline, EOFError when the process died."""
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            raise TimeoutError
        chunk = os.read(fd, 65536)
        if not chunk:
            raise EOFError
        self._buffer += chunk

    def _answer(self, deadline: float) -> tuple[bytes, bytes]:
        """One frame: the header line's kind, then exactly its payload."""
        while b"\n" not in self._buffer:
            self._fill(deadline)
        header, _, rest = bytes(self._buffer).partition(b"\n")
        kind, size = header.split()
        self._buffer = bytearray(rest)
        while len(self._buffer) < int(size):
            self._fill(deadline)
        payload = bytes(self._buffer[: int(size)])
        del self._buffer[: int(size)]
        return kind, payload

    def invoke(self, payload: bytes, timeout: float) -> tuple[str | None, bytes]:
        assert self.proc.stdin is not None
        deadline = time.monotonic() + timeout
        frame = memoryview(f"INVOKE {len(payload)} {timeout:.3f}\n".encode() + payload)
        while frame:
            frame = frame[self.proc.stdin.write(frame) or 0 :]
        kind, answer = self._answer(deadline)
        return (None if kind == b"OK" else "Unhandled"), answer

    def sweep(self, since: PidWindow | None = None) -> None:
        """Between invocations nothing of the last one keeps running (Lambda freezes the sandbox)."""
        _kill_session(self.proc.pid, keep=self.proc.pid, since=since)

    def kill_tree(self) -> None:
        """Everything this environment started (the runner is their subreaper, so even a setsid'ed
        command stays its descendant), then the environment itself."""
        for pid in reversed([self.proc.pid, *descendants(self.proc.pid)]):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)

    def close(self) -> None:
        _kill_session(self.proc.pid)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5)
        shutil.rmtree(self.work, ignore_errors=True)

    def exit_error(self) -> bytes:
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5)
        self._reader.join(timeout=1)
        return _exit_error(self.proc.returncode or 0, b"".join(self.stderr))


def _execution_of(payload: bytes) -> str:
    """The execution an invocation belongs to (its `executionId`; "" when it names none)."""
    try:
        found = json.loads(payload).get("executionId")
    except (ValueError, AttributeError):
        return ""
    return str(found) if found else ""


class LocalRunnerFunction:
    """One template function (the runner) served by warm processes of its own interpreter."""

    def __init__(
        self,
        spec: FunctionSpec,
        python: Path,
        identity: RunnerIdentity | None = None,
        parent: Path = VENV_PARENT,
        environment: dict[str, str] | None = None,
        max_idle: int = 4,
    ) -> None:
        self.spec = spec
        self.python = python
        self.identity = identity or runner_identity()
        self.timeout = float(spec.timeout_seconds)
        self.environment = {**_QUIET, **(environment or {})}
        self.max_idle = max_idle
        self._idle: list[_Environment] = []
        self._busy: dict[str, list[_Environment]] = {}  # execution id -> environments serving it now
        self._lock = threading.Lock()
        parent.mkdir(parents=True, exist_ok=True)
        self.root = Path(tempfile.mkdtemp(prefix=f"{spec.logical_id.lower()}-", dir=parent))
        self._stage()

    def _stage(self) -> None:
        """The function's code as a deployment would ship it: /var/task and /opt/python."""
        for layer in self.spec.layers:
            shutil.copytree(layer, self.root / "opt" / "python", dirs_exist_ok=True, ignore=_STAGE_IGNORE)
        shutil.copytree(self.spec.code_uri, self.root / "task", ignore=_STAGE_IGNORE)
        shutil.copy(_BOOTSTRAP, self.root / "bootstrap.py")
        (self.root / "work").mkdir()
        _readable_by_all(self.root)
        cache = self.root / "cache"  # the runner's bundle cache, writable by the runner user only
        cache.mkdir(mode=0o700)
        if self.identity.uid is not None:
            os.chown(cache, self.identity.uid, self.identity.gid or 0)

    def environment_for(self, work: Path) -> dict[str, str]:
        return {
            **self.environment,
            "PATH": os.pathsep.join([str(self.python.parent), "/usr/local/bin", "/usr/bin", "/bin"]),
            "LANG": "C.UTF-8",
            "HOME": str(work),
            "TMPDIR": str(work),
            "PYTHONPATH": os.pathsep.join([str(self.root / "task"), str(self.root / "opt" / "python")]),
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONUNBUFFERED": "1",
            "_HANDLER": self.spec.handler,
            "AWS_LAMBDA_FUNCTION_NAME": self.spec.logical_id,
            "AWS_LAMBDA_FUNCTION_TIMEOUT": str(int(self.timeout)),
            "TESTGENIE_BUNDLE_CACHE": str(self.root / "cache"),
        }

    def invoke(self, payload: bytes) -> tuple[str | None, bytes]:
        """(FunctionError or None, payload), as Lambda's Invoke answers it."""
        window = pid_window()  # what this invocation starts is created from here on
        with self._lock:
            environment = self._idle.pop() if self._idle else None
        environment = environment or _Environment(self)
        owner = _execution_of(payload)
        with self._lock:
            self._busy.setdefault(owner, []).append(environment)
        try:
            return self._run(environment, payload, window)
        finally:
            with self._lock:
                self._busy[owner].remove(environment)
                if not self._busy[owner]:
                    del self._busy[owner]

    def abandon(self, execution_id: str) -> int:
        """End the invocations in flight for `execution_id` (its durable execution was stopped): their
        processes are killed, as a Lambda environment is when its invocation is abandoned."""
        with self._lock:
            victims = list(self._busy.get(execution_id, []))
        for environment in victims:
            environment.kill_tree()
        return len(victims)

    def _run(
        self, environment: _Environment, payload: bytes, window: PidWindow | None
    ) -> tuple[str | None, bytes]:
        try:
            answer = environment.invoke(payload, self.timeout)
        except TimeoutError:
            environment.close()  # Lambda ends a timed-out environment
            message = f"Task timed out after {self.timeout:.2f} seconds"
            return "Unhandled", json.dumps(
                {"errorType": "Sandbox.Timedout", "errorMessage": message}
            ).encode()
        except (EOFError, OSError, ValueError):
            answer = ("Unhandled", environment.exit_error())
            environment.close()
            return answer
        environment.sweep(since=window)
        with self._lock:
            keep = len(self._idle) < self.max_idle
            if keep:
                self._idle.append(environment)
        if not keep:
            environment.close()
        return answer

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for environment in idle:
            environment.close()
        shutil.rmtree(self.root, ignore_errors=True)


class LocalRunner:
    """The runner function(s) behind a local Lambda Invoke endpoint; start() answers the coordinator's
    environment (where to invoke, how long the runner may take, where its logs are uploaded)."""

    def __init__(
        self,
        specs: list[FunctionSpec],
        *,
        artifacts_dir: Path | None,
        upload_secret: str,
        identity: RunnerIdentity | None = None,
        host: str = "127.0.0.1",
        say: Callable[[str], None] | None = None,
    ) -> None:
        self.specs = specs
        self.artifacts_dir = artifacts_dir
        self.upload_secret = upload_secret
        self.identity = identity or runner_identity()
        self.host = host
        self.say = say
        self.functions: dict[str, LocalRunnerFunction] = {}
        self.endpoint: LambdaEndpoint | None = None

    def start(self) -> dict[str, str | None]:
        for spec in self.specs:
            python = ensure_runner_venv(spec.layers, say=self.say)  # RunnerVenvError: the caller says why
            self.functions[spec.logical_id] = LocalRunnerFunction(spec, python, self.identity)
        self.endpoint = LambdaEndpoint(
            self.functions, artifacts_dir=self.artifacts_dir, upload_secret=self.upload_secret, host=self.host
        )
        self.endpoint.start()
        timeouts = {str(spec.timeout_seconds) for spec in self.specs}
        uploads = self.artifacts_dir is not None
        return {
            "RUNNER_TIMEOUT_SECONDS": timeouts.pop() if len(timeouts) == 1 else None,
            "AWS_ENDPOINT_URL_LAMBDA": self.endpoint.url,
            "ARTIFACTS_UPLOAD_URL": self.endpoint.upload_url if uploads else None,
            "ARTIFACTS_UPLOAD_SECRET": self.upload_secret if uploads else None,
        }

    def abandon(self, execution_id: str) -> int:
        """Kill the runner processes serving `execution_id` now (how many there were)."""
        return sum(function.abandon(execution_id) for function in self.functions.values())

    def stop(self) -> None:
        if self.endpoint is not None:
            self.endpoint.stop()
        for function in self.functions.values():
            function.close()
