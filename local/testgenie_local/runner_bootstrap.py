"""What Lambda's runtime does in one execution environment, run by the local runner's interpreter.

Executed as a script (`python -P runner_bootstrap.py`) in the runner venv, it stays warm like a
Lambda environment: it imports the handler named by _HANDLER once, then serves invocations one at a
time from stdin, each a header line `INVOKE <bytes> <timeout seconds>` and the event JSON, and
answers on the original stdout with `OK <bytes>` or `ERROR <bytes>` and the payload (Lambda's error
shape). Anything the handler or a phase prints goes to stderr, and the answer's file descriptor is
not inherited by the phase's commands, so nothing else can write an answer. In a sandbox without
network the phase log goes out on one more pipe (TESTGENIE_LOG_FD), not inherited either; the
handler makes this process non-dumpable, so a command cannot copy these pipes. Standard library only.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
import traceback
import uuid
from typing import Any


class Context:
    """The parts of Lambda's context object the handlers read."""

    def __init__(self, function_name: str, timeout_seconds: float) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1024"))
        self.aws_request_id = str(uuid.uuid4())
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{function_name}"
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = f"local/[$LATEST]{self.aws_request_id[:8]}"
        self.identity = None
        self.client_context = None
        self._deadline = time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def _error(exc: BaseException) -> dict[str, Any]:
    return {
        "errorMessage": str(exc),
        "errorType": type(exc).__name__,
        "stackTrace": traceback.format_exception(exc)[-20:],
    }


def _write(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _handle(handler: Any, event: bytes, timeout: float) -> tuple[str, Any]:
    context = Context(os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "function"), timeout)
    try:
        return "OK", handler(json.loads(event), context)
    except Exception as exc:
        return "ERROR", _error(exc)


def main() -> int:
    answer_fd = os.dup(1)  # not inheritable (PEP 446): the phase's commands never get it
    os.dup2(2, 1)
    log_fd = os.environ.pop("TESTGENIE_LOG_FD", "")
    if log_fd.isdigit():
        os.set_inheritable(int(log_fd), False)
    requests = sys.stdin.buffer
    module_name, _, attr = os.environ["_HANDLER"].rpartition(".")
    failure: dict[str, Any] = {}
    try:
        handler: Any = getattr(importlib.import_module(module_name), attr)
    except Exception as exc:  # an init error: every invocation answers it, as Lambda does
        failure = _error(exc)
        handler = None
    while header := requests.readline():
        _, size, timeout = header.split()
        event = requests.read(int(size))
        kind, payload = _handle(handler, event, float(timeout)) if handler else ("ERROR", failure)
        data = json.dumps(payload).encode()
        _write(answer_fd, f"{kind} {len(data)}\n".encode() + data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
