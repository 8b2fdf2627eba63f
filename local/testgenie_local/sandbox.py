"""The local runner's sandbox: each runner environment in a bubblewrap (`bwrap`) sandbox of its own.

Lambda gives every execution environment a microVM; on one machine the nearest thing is Debian's
bubblewrap: new pid, network, IPC, UTS, cgroup and mount namespaces, a uid of the environment's own
(when the stack runs as root), a read-only view of /usr and /etc plus the runner's code, a private
size-bounded /tmp (the only writable place: the workspace) and /dev/shm, no capabilities, and
process, memory and file-size limits. With no network namespace of its own the sandbox sees only
its own loopback: not the local API, the local AWS, PostgreSQL or anything else of the host; the
runner host outside fetches the bundle and carries the log (docs/architecture.md, "The runner").

`RUNNER_NETWORK=host` shares the host's network with trusted scenario sets (the stack warns);
`--unsafe-shared-runner` runs without any sandbox where bubblewrap cannot run.
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

# TESTGENIE_BWRAP: another bwrap (a path that does not exist stands for a machine without one).
BWRAP = os.environ.get("TESTGENIE_BWRAP", "bwrap")
NETWORK_ENV = "RUNNER_NETWORK"
# Where the environments' own uids start (no account has them; nothing on the host belongs to them).
UID_BASE = int(os.environ.get("TESTGENIE_SANDBOX_UID_BASE", "2900000"))
UID_COUNT = 4096
TMP_BYTES = 4096 * 1024 * 1024  # the function's EphemeralStorage (template.yaml), a tmpfs here
SHM_BYTES = 64 * 1024 * 1024
MAX_PROCESSES = 512  # per environment: its uid is its own, so RLIMIT_NPROC counts only its processes
MAX_ADDRESS_SPACE = 8 * 1024 * 1024 * 1024  # per process (virtual memory)
MAX_FILE_BYTES = 1024 * 1024 * 1024
MAX_OPEN_FILES = 4096
_ROOT_LINKS = {"/bin": "usr/bin", "/lib": "usr/lib", "/lib64": "usr/lib64", "/sbin": "usr/sbin"}

INSTALL_HINT = (
    "install it as root with `make sandbox` (apt-get install bubblewrap), or start the stack with "
    "--unsafe-shared-runner to run scenarios without a sandbox (every scenario then shares this "
    "machine's network and one user: only for scenarios you trust)"
)


class SandboxUnavailable(Exception):
    """bubblewrap cannot run here; the message says why and what to do."""


class _UidPool:
    """Distinct uids for live environments: none can signal, trace or read the files of another."""

    def __init__(self, base: int = UID_BASE, count: int = UID_COUNT) -> None:
        self._free = list(range(base + count - 1, base - 1, -1))
        self._lock = threading.Lock()

    def take(self) -> int:
        with self._lock:
            if not self._free:
                raise SandboxUnavailable(f"all {UID_COUNT} sandbox uids are in use")
            return self._free.pop()

    def give_back(self, uid: int) -> None:
        with self._lock:
            self._free.append(uid)


@dataclass
class Sandbox:
    """How runner environments are started: `kind` "bubblewrap" or "shared" (no sandbox at all)."""

    kind: str
    network: str = "none"  # "none": its own loopback only; "host": the host's network
    bwrap: str = BWRAP
    tmp_bytes: int = TMP_BYTES
    own_uids: bool = True  # a uid per environment (needs root); else the stack's own uid
    _uids: _UidPool = field(default_factory=_UidPool)

    @property
    def isolated(self) -> bool:
        return self.kind == "bubblewrap"

    @property
    def offline(self) -> bool:
        """The runner cannot reach the host: its host fetches the bundle and carries the log."""
        return self.isolated and self.network == "none"

    def take_uid(self) -> int | None:
        return self._uids.take() if self.isolated and self.own_uids else None

    def give_back_uid(self, uid: int | None) -> None:
        if uid is not None:
            self._uids.give_back(uid)

    def command(self, argv: Sequence[str], *, read_only: Sequence[Path], hostname: str) -> list[str]:
        """bwrap's command line around `argv`: every path of `read_only` at the same place, read-only."""
        args = [
            self.bwrap,
            "--unshare-all",
            *(["--share-net"] if self.network == "host" else []),
            "--die-with-parent",  # the host goes, the sandbox goes
            "--new-session",  # no TIOCSTI into a terminal
            "--cap-drop",
            "ALL",
            "--hostname",
            hostname,
            "--ro-bind",
            "/usr",
            "/usr",
            "--ro-bind",
            "/etc",
            "/etc",
        ]
        for link, target in _ROOT_LINKS.items():
            if os.path.islink(link):
                args += ["--symlink", target, link]
            elif os.path.isdir(link):
                args += ["--ro-bind", link, link]
        for path in read_only:
            args += ["--ro-bind", str(path), str(path)]
        args += [
            "--proc",
            "/proc",
            "--dev",
            "/dev",
            "--size",
            str(self.tmp_bytes),
            "--tmpfs",
            "/tmp",
            "--size",
            str(SHM_BYTES),
            "--tmpfs",
            "/dev/shm",
            "--remount-ro",
            "/",
            "--chdir",
            "/tmp",
            "--",
            *argv,
        ]
        return args


def limit_resources() -> None:
    """In the sandbox's first process, before exec (inherited by everything in it)."""
    for kind, value in (
        (resource.RLIMIT_NPROC, MAX_PROCESSES),
        (resource.RLIMIT_AS, MAX_ADDRESS_SPACE),
        (resource.RLIMIT_FSIZE, MAX_FILE_BYTES),
        (resource.RLIMIT_NOFILE, MAX_OPEN_FILES),
        (resource.RLIMIT_CORE, 0),
    ):
        _soft, hard = resource.getrlimit(kind)
        limit = value if hard == resource.RLIM_INFINITY else min(value, hard)
        resource.setrlimit(kind, (limit, limit))


def _probe(bwrap: str, uid: int | None) -> str | None:
    """Why bubblewrap cannot start a sandbox as `uid` here, or None when it can."""
    probe = Sandbox("bubblewrap", bwrap=bwrap)
    try:
        done = subprocess.run(
            probe.command(["/bin/true"], read_only=[], hostname="probe"),
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
            user=uid,
            group=uid,
            extra_groups=[] if uid is not None else None,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return str(exc)
    return None if done.returncode == 0 else (done.stderr.strip() or f"exit status {done.returncode}")


def choose_sandbox(
    *, unsafe_shared: bool = False, network: str | None = None, say: Callable[[str], None] | None = None
) -> Sandbox:
    """The bubblewrap sandbox when it can run here; SandboxUnavailable saying why otherwise, unless
    `unsafe_shared` (then no sandbox, with a warning)."""
    network = (network if network is not None else os.environ.get(NETWORK_ENV, "none")).strip() or "none"
    if network not in {"none", "host"}:
        raise SandboxUnavailable(f"{NETWORK_ENV} must be 'none' or 'host', not {network!r}")
    bwrap = shutil.which(BWRAP)
    problem = "bubblewrap (bwrap) is not installed" if bwrap is None else None
    own_uids = os.geteuid() == 0
    if bwrap is not None:
        found = _probe(bwrap, UID_BASE if own_uids else None)
        if found is not None:
            problem = (
                f"bubblewrap cannot create a sandbox here ({found}); as a user other than root it "
                "needs unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1)"
            )
    if problem is not None:
        if not unsafe_shared:
            raise SandboxUnavailable(f"the runner's sandbox is unavailable: {problem}; {INSTALL_HINT}")
        if say is not None:
            say(
                f"warning: --unsafe-shared-runner: {problem}; scenarios run without a sandbox, "
                "share this machine's network and can reach one another's runs"
            )
        return Sandbox("shared", network="host")
    assert bwrap is not None
    if network == "host" and say is not None:
        say(
            f"warning: {NETWORK_ENV}=host: scenarios share this machine's network (the local API, "
            "the local AWS and PostgreSQL are within their reach): only for scenarios you trust"
        )
    return Sandbox("bubblewrap", network=network, bwrap=bwrap, own_uids=own_uids)
