"""The local RunnerFunction: every invocation is a separate process with a built environment.

The process runs the runner venv's interpreter (runner_venv.py, only the runner's declared
packages), gets no variable of this stack (no DATABASE_URL, no AWS keys: the environment is built,
not filtered), and reads the function's code from a staged copy, as Lambda reads /var/task and
/opt/python. Run as root (CI), it runs as `nobody`, so it cannot read /proc/<pid>/environ of the
stack or any other process, nor the stack's private files. When privileges cannot be dropped the
stack says once that local runs are not isolated (docs/architecture.md, "The runner").
"""

from __future__ import annotations

import contextlib
import getpass
import json
import logging
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from testgenie_local.runner_venv import VENV_PARENT
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


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def _exit_error(returncode: int, stderr: bytes) -> bytes:
    how = f"signal {-returncode}" if returncode < 0 else f"exit status {returncode}"
    tail = stderr[-_STDERR_TAIL:].decode("utf-8", "replace").strip()
    message = f"Runtime exited with error: {how}" + (f": {tail}" if tail else "")
    return json.dumps({"errorType": "Runtime.ExitError", "errorMessage": message}).encode()


class LocalRunnerFunction:
    """One template function served as separate processes (the runner: RunnerFunction)."""

    def __init__(
        self,
        spec: FunctionSpec,
        python: Path,
        identity: RunnerIdentity | None = None,
        parent: Path = VENV_PARENT,
        environment: dict[str, str] | None = None,
    ) -> None:
        self.spec = spec
        self.python = python
        self.identity = identity or runner_identity()
        self.timeout = float(spec.timeout_seconds)
        self.environment = {**_QUIET, **(environment or {})}
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

    def _env(self, work: Path) -> dict[str, str]:
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
        work = Path(tempfile.mkdtemp(dir=self.root / "work", prefix="invocation-"))
        ident = self.identity
        if ident.uid is not None:
            os.chown(work, ident.uid, ident.gid or 0)
        proc = subprocess.Popen(
            [str(self.python), "-P", str(self.root / "bootstrap.py")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=work,
            env=self._env(work),
            start_new_session=True,
            user=ident.uid,
            group=ident.gid,
            extra_groups=[] if ident.uid is not None else None,  # none of root's groups
        )
        try:
            try:
                out, err = proc.communicate(payload, timeout=self.timeout)
            except subprocess.TimeoutExpired:
                _kill_group(proc.pid)
                proc.communicate()
                message = f"Task timed out after {self.timeout:.2f} seconds"
                return "Unhandled", json.dumps(
                    {"errorType": "Sandbox.Timedout", "errorMessage": message}
                ).encode()
        finally:
            _kill_group(proc.pid)  # what the invocation left in its session ends with it, as in Lambda
            shutil.rmtree(work, ignore_errors=True)
        for line in err.decode("utf-8", "replace").splitlines()[-50:]:
            log.debug("%s: %s", self.spec.logical_id, line)
        if proc.returncode == 0:
            return None, out
        with contextlib.suppress(ValueError):
            if isinstance(json.loads(out), dict):
                return "Unhandled", out
        return "Unhandled", _exit_error(proc.returncode, err)

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
