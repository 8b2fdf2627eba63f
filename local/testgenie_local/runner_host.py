"""The local RunnerFunction: every invocation is a separate process with a built environment.

The process runs the runner venv's interpreter (runner_venv.py, only the runner's declared
packages), gets no variable of this stack (no DATABASE_URL, no AWS keys: the environment is built,
not filtered), and reads the function's code from a staged copy, as Lambda reads /var/task and
/opt/python. Each warm environment lives in a bubblewrap sandbox of its own (sandbox.py: its own
pid, network and mount namespaces and uid); one serves a single tenant (the scenario named by the
invoke's TenantId), and one that misbehaved — a malformed or extra answer, a runner that died or
was stopped — is discarded, never reused. With no network of its own, the sandbox gets its bundle
and hands out its log through this host. Without a sandbox (--unsafe-shared-runner) the runner runs
as `nobody` when the stack is root (docs/architecture.md, "The runner").
"""

from __future__ import annotations

import collections
import contextlib
import getpass
import hashlib
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
from typing import Any

from testgenie.orchestrator.phases.containment import PidWindow, created_since, descendants, pid_window

from testgenie_local import presigned
from testgenie_local.lambda_endpoint import MAX_UPLOAD_BYTES, LambdaEndpoint
from testgenie_local.runner_limits import DEFAULT_RUNNER_CONCURRENCY, runner_concurrency
from testgenie_local.runner_venv import VENV_PARENT, RunnerVenvError, ensure_runner_venv, tarfile_problem
from testgenie_local.sandbox import Sandbox, limit_resources
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


def _exit_error(returncode: int, stderr: bytes, sandboxed: bool = False) -> bytes:
    if sandboxed and returncode > 128:
        returncode = 128 - returncode  # bwrap answers a child's death by signal N as 128 + N
    how = f"signal {-returncode}" if returncode < 0 else f"exit status {returncode}"
    tail = stderr[-_STDERR_TAIL:].decode("utf-8", "replace").strip()
    message = f"Runtime exited with error: {how}" + (f": {tail}" if tail else "")
    return json.dumps({"errorType": "Runtime.ExitError", "errorMessage": message}).encode()


def _state(pid: int) -> str | None:
    """A process's state letter (R, S, T, Z, ...), None when it is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


def _parent(pid: int) -> int | None:
    """A process's parent pid, None when it is gone."""
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


class Misbehaved(Exception):
    """The environment cannot be trusted with another invocation (it is discarded)."""


class _Environment:
    """One warm runner process (a Lambda execution environment): serves invocations one at a time,
    of one tenant only."""

    def __init__(self, owner: LocalRunnerFunction, tenant: str | None) -> None:
        self.owner = owner
        self.tenant = tenant
        sandbox = owner.sandbox
        self.uid = sandbox.take_uid()
        ident = owner.identity
        uid = self.uid if sandbox.isolated else ident.uid
        gid = self.uid if sandbox.isolated else ident.gid
        self.work = Path(tempfile.mkdtemp(dir=owner.root / "work", prefix="environment-"))
        self.inbox = self.work / "in"  # the bundle, written here by the host, read-only inside
        self.inbox.mkdir()
        os.chmod(self.work, 0o755)  # noqa: S103 - holds only the bundle of this environment's tenant
        if not sandbox.isolated and uid is not None:
            os.chown(self.work, uid, gid or 0)
        self._log_read, log_write = os.pipe()
        os.set_blocking(self._log_read, False)
        self.log_fd = log_write
        argv = [str(owner.python), "-P", str(owner.root / "bootstrap.py")]
        if sandbox.isolated:
            argv = sandbox.command(
                argv,
                read_only=[owner.python.parent.parent, *owner.code_paths(), self.inbox],
                hostname="runner",
            )
        try:
            self.proc = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                bufsize=0,
                cwd=self.work,
                env=owner.environment_for(self.work, log_write),
                start_new_session=True,
                pass_fds=(log_write,),
                user=uid,
                group=gid,
                extra_groups=[] if uid is not None else None,  # none of root's groups
                preexec_fn=limit_resources if sandbox.isolated else None,
            )
        finally:
            os.close(log_write)
        self.stderr: collections.deque[bytes] = collections.deque(maxlen=200)
        self._buffer = bytearray()
        self._log = bytearray()
        self._log_overflow = False
        self._reader = threading.Thread(
            target=self._drain, name=f"{owner.spec.logical_id}-stderr", daemon=True
        )
        self._reader.start()
        self.name = owner.spec.logical_id
        self._chain: tuple[int, int] | None = None  # (the sandbox's pid 1, the runner), once found
        self.staged: str | None = None  # the digest of the bundle in the inbox

    def _drain(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.stderr.append(line)
            log.debug("%s: %s", self.name, line.decode("utf-8", "replace").rstrip())

    def _take_log(self) -> None:
        """What the runner wrote on its log pipe so far (kept up to MAX_UPLOAD_BYTES)."""
        while True:
            try:
                chunk = os.read(self._log_read, 65536)
            except BlockingIOError:
                return
            if not chunk:
                return
            if len(self._log) + len(chunk) > MAX_UPLOAD_BYTES:
                self._log_overflow = True
            else:
                self._log += chunk

    def _fill(self, deadline: float) -> None:
        """More of the answer pipe; TimeoutError at the deadline, EOFError when the process died."""
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        while True:
            ready, _, _ = select.select([fd, self._log_read], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                raise TimeoutError
            if self._log_read in ready:
                self._take_log()
            if fd in ready:
                break
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
        self._log.clear()
        self._log_overflow = False
        frame = memoryview(f"INVOKE {len(payload)} {timeout:.3f}\n".encode() + payload)
        while frame:
            frame = frame[self.proc.stdin.write(frame) or 0 :]
        kind, answer = self._answer(deadline)
        self._take_log()
        return (None if kind == b"OK" else "Unhandled"), answer

    def carried_log(self) -> bytes | None:
        """The log the runner handed over its pipe in this invocation (None: too big to carry)."""
        return None if self._log_overflow else bytes(self._log)

    def check_clean(self) -> None:
        """Misbehaved when anything is left over: bytes after the answer, a runner stopped or gone."""
        assert self.proc.stdout is not None
        if self._buffer or select.select([self.proc.stdout.fileno()], [], [], 0)[0]:
            raise Misbehaved("the runner wrote more than one answer")
        runner = self.runner_pid()
        state = _state(runner) if runner is not None else None
        if state is None or state in {"T", "t", "Z", "X"}:
            raise Misbehaved(f"the runner process is {'gone' if state is None else 'stopped'}")

    def runner_pid(self) -> int | None:
        """The runner process itself (inside the sandbox: bwrap's child's child)."""
        if not self.owner.sandbox.isolated:
            return self.proc.pid
        chain = self._chain
        # The same two processes as last time (each still the other's child): no scan of /proc.
        if chain is not None and _parent(chain[1]) == chain[0] and _parent(chain[0]) == self.proc.pid:
            return chain[1]
        from testgenie.orchestrator.phases.containment import descendants

        found = descendants(self.proc.pid)
        self._chain = (found[0], found[1]) if len(found) == 2 else None  # bwrap -> its pid 1 -> the runner
        return self._chain[1] if self._chain else None

    def sweep(self, since: PidWindow | None = None) -> None:
        """Between invocations nothing of the last one keeps running (Lambda freezes the sandbox).
        In a sandbox the runner ended everything itself (its pid namespace is its own)."""
        if not self.owner.sandbox.isolated:
            _kill_session(self.proc.pid, keep=self.proc.pid, since=since)

    def kill_tree(self) -> None:
        """Everything this environment started (the runner is their subreaper, so even a setsid'ed
        command stays its descendant), then the environment itself."""
        for pid in reversed([self.proc.pid, *descendants(self.proc.pid)]):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)

    def close(self) -> None:
        if self.owner.sandbox.isolated:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()  # the sandbox's init dies with it (--die-with-parent), then all in it
        _kill_session(self.proc.pid)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5)
        with contextlib.suppress(OSError):
            os.close(self._log_read)
        shutil.rmtree(self.work, ignore_errors=True)
        self.owner.sandbox.give_back_uid(self.uid)
        self.uid = None

    def exit_error(self) -> bytes:
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5)
        self._reader.join(timeout=1)
        return _exit_error(
            self.proc.returncode or 0, b"".join(self.stderr), sandboxed=self.owner.sandbox.isolated
        )


def _fetch_bytes(url: str, limit: int) -> bytes:
    data = presigned.get(url, limit)
    if len(data) > limit:
        raise ValueError(f"the bundle is larger than {limit} bytes")
    return data


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
        sandbox: Sandbox | None = None,
        stage_bytes: bool | None = None,
        concurrency: int = DEFAULT_RUNNER_CONCURRENCY,
    ) -> None:
        self.spec = spec
        self.stopping = threading.Event()  # set once the stack is stopping (_warn)
        # At most this many environments run at once (the shards of a phase among them); more
        # invocations wait for a free one, as Lambda's reserved concurrency bounds them on AWS.
        self._slots = threading.BoundedSemaphore(max(1, concurrency))
        self.python = python
        self.identity = identity or runner_identity()
        self.sandbox = sandbox or Sandbox("shared", network="host")
        self.timeout = float(spec.timeout_seconds)
        self.environment = {**_QUIET, **(environment or {})}
        self.max_idle = max_idle
        self.per_tenant = spec.tenant_isolation == "PER_TENANT"
        # The host fetches the bundle and carries the log: always in the stack (the sandbox has no
        # network, and the local AWS honours pre-signed URLs only through presigned.py).
        self.stage_bytes = stage_bytes if stage_bytes is not None else self.sandbox.offline
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
        os.chmod(self.root / "work", 0o711)  # noqa: S103 - each environment's folder, not the list of them
        cache = self.root / "cache"  # the runner's bundle cache, writable by the runner user only
        cache.mkdir(mode=0o700)
        if self.identity.uid is not None:
            os.chown(cache, self.identity.uid, self.identity.gid or 0)

    def code_paths(self) -> list[Path]:
        return [self.root / "task", self.root / "opt", self.root / "bootstrap.py"]

    def environment_for(self, work: Path, log_fd: int) -> dict[str, str]:
        sandboxed = self.sandbox.isolated
        scratch = "/tmp" if sandboxed else str(work)
        return {
            **self.environment,
            "PATH": os.pathsep.join([str(self.python.parent), "/usr/local/bin", "/usr/bin", "/bin"]),
            "LANG": "C.UTF-8",
            "HOME": scratch,
            "TMPDIR": scratch,
            "PYTHONPATH": os.pathsep.join([str(self.root / "task"), str(self.root / "opt" / "python")]),
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONUNBUFFERED": "1",
            "_HANDLER": self.spec.handler,
            "AWS_LAMBDA_FUNCTION_NAME": self.spec.logical_id,
            "AWS_LAMBDA_FUNCTION_TIMEOUT": str(int(self.timeout)),
            "TESTGENIE_BUNDLE_CACHE": f"{scratch}/.bundles" if sandboxed else str(self.root / "cache"),
            "TESTGENIE_RUNNER_SCRATCH": scratch,
            "TESTGENIE_LOG_FD": str(log_fd),
            **({"TESTGENIE_RUNNER_SANDBOX": "pid-namespace"} if sandboxed else {}),
        }

    def _stage_invocation(self, environment: _Environment, payload: bytes) -> tuple[bytes, dict[str, Any]]:
        """For a sandbox without network: the bundle fetched here into its inbox, the log URL swapped
        for its log pipe. Returns the payload to send and the invocation's original log target."""
        event = json.loads(payload)
        bundle, upload = event["bundle"], event["logUpload"]
        environment.inbox.mkdir(exist_ok=True)
        target = environment.inbox / "bundle.tar.gz"
        digest = str(bundle.get("sha256") or "")
        # The next phase of the same bundle in this environment: its inbox (read-only inside the
        # sandbox) already holds those bytes; no second download (an S3 GET a phase).
        if not (digest and environment.staged == digest and target.is_file()):
            environment.staged = None
            for old in environment.inbox.iterdir():
                old.unlink()
            try:
                data = _fetch_bytes(str(bundle["url"]), int(bundle.get("sizeBytes") or 0) or _MAX_BUNDLE)
            except Exception as exc:  # the runner says the bundle could not be fetched, and why
                self._warn("the bundle could not be fetched for the sandbox: %s", exc)
            else:
                target.write_bytes(data)  # the runner checks its digest, as with any download
                os.chmod(target, 0o644)
                environment.staged = digest if hashlib.sha256(data).hexdigest() == digest else None
        bundle["url"] = target.as_uri()
        original = dict(upload)
        upload["url"] = f"fd:{environment.log_fd}"
        return json.dumps(event).encode(), original

    def _carry_log(self, environment: _Environment, answer: bytes, target: dict[str, Any]) -> bytes:
        """PUT the log the sandbox handed over where the coordinator asked; the answer says if it was."""
        try:
            body = json.loads(answer)
        except ValueError:
            return answer
        if not isinstance(body, dict) or not body.get("logStored"):
            return answer
        data = environment.carried_log()
        problem = "the phase log is larger than the runner may upload" if data is None else None
        if data is not None:
            try:  # the coordinator's pre-signed PUT
                presigned.put(str(target["url"]), data, dict(target.get("headers") or {}))
            except Exception as exc:  # the result matters more than its log: say why, keep the answer
                problem = f"the phase log could not be uploaded: {exc}"
        if problem is not None:
            body["logStored"] = False
            body["warnings"] = [*(body.get("warnings") or []), problem]
        return json.dumps(body).encode()

    def _take_environment(self, tenant: str | None) -> _Environment:
        """An idle environment of this tenant that is still sound (else a new one)."""
        while True:
            with self._lock:
                index = next((i for i, env in enumerate(self._idle) if env.tenant == tenant), None)
                environment = self._idle.pop(index) if index is not None else None
            if environment is None:
                return _Environment(self, tenant)
            try:
                environment.check_clean()  # stopped, gone or talking while idle: never reused
            except Misbehaved as exc:
                self._warn("idle environment discarded: %s", exc)
                environment.close()
                continue
            return environment

    def _warn(self, message: str, *args: object) -> None:
        """A warning while the stack runs; while it stops (`stopping`), what fails because it stops (its
        runners frozen by stack.stop, the local S3 going down) is expected, not news: DEBUG."""
        level = logging.DEBUG if self.stopping.is_set() else logging.WARNING
        log.log(level, "%s: " + message, self.spec.logical_id, *args)

    def invoke(self, payload: bytes, tenant: str | None = None) -> tuple[str | None, bytes]:
        """(FunctionError or None, payload), as Lambda's Invoke answers it."""
        with self._slots:
            return self._invoke(payload, tenant)

    def _invoke(self, payload: bytes, tenant: str | None) -> tuple[str | None, bytes]:
        window = pid_window()  # what this invocation starts is created from here on
        environment = self._take_environment(tenant)
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
        original: dict[str, Any] | None = None
        if self.stage_bytes:
            # Not an invocation: the runner itself answers that it is malformed.
            with contextlib.suppress(ValueError, KeyError, TypeError, AttributeError):
                payload, original = self._stage_invocation(environment, payload)
        try:
            error, answer = environment.invoke(payload, self.timeout)
        except TimeoutError:
            environment.close()  # Lambda ends a timed-out environment
            message = f"Task timed out after {self.timeout:.2f} seconds"
            return "Unhandled", json.dumps(
                {"errorType": "Sandbox.Timedout", "errorMessage": message}
            ).encode()
        except (EOFError, OSError, ValueError):
            answer = environment.exit_error()
            environment.close()
            return "Unhandled", answer
        if original is not None and error is None:
            answer = self._carry_log(environment, answer, original)
        environment.sweep(since=window)
        try:
            _check_answers(payload, answer, error)
        except Misbehaved as exc:  # a forged or stale answer: news even while the stack stops
            log.warning("%s: environment discarded: %s", self.spec.logical_id, exc)
            environment.close()
            return error, answer
        try:
            environment.check_clean()
        except Misbehaved as exc:
            self._warn("environment discarded: %s", exc)
            environment.close()
            return error, answer
        with self._lock:
            keep = len(self._idle) < self.max_idle
            if keep:
                self._idle.append(environment)
        if not keep:
            environment.close()
        return error, answer

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for environment in idle:
            environment.close()
        shutil.rmtree(self.root, ignore_errors=True)


_MAX_BUNDLE = 64 * 1024 * 1024


def _check_answers(payload: bytes, answer: bytes, error: str | None) -> None:
    """Misbehaved when a successful answer is not about this invocation (a forged or stale one)."""
    if error is not None:
        return
    try:
        asked, said = json.loads(payload), json.loads(answer)
    except ValueError:
        raise Misbehaved("the answer is not JSON") from None
    if not isinstance(asked, dict) or not isinstance(said, dict):
        return
    for key in ("executionId", "phase"):
        if key in asked and said.get(key) != asked[key]:
            raise Misbehaved(f"the answer is for another {key}")


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
        sandbox: Sandbox | None = None,
    ) -> None:
        self.sandbox = sandbox
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
            problem = tarfile_problem(python)
            if problem is not None:
                raise RunnerVenvError(problem)
            concurrency = runner_concurrency()
            self.functions[spec.logical_id] = LocalRunnerFunction(
                spec,
                python,
                self.identity,
                sandbox=self.sandbox,
                concurrency=concurrency,
                max_idle=concurrency,
                stage_bytes=True,
            )
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

    def quiesce(self) -> None:
        """The stack is stopping: failures caused by its servers going down are no longer warnings."""
        for function in self.functions.values():
            function.stopping.set()

    def stop(self) -> None:
        self.quiesce()
        if self.endpoint is not None:
            self.endpoint.stop()
        for function in self.functions.values():
            function.close()
