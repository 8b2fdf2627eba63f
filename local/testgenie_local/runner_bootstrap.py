"""What Lambda's runtime does for one invocation, run by the local runner's own interpreter.

Executed as a script (`python -P runner_bootstrap.py`) in the runner venv: reads the event from
stdin, calls the handler named by _HANDLER, and writes the answer (or Lambda's error shape) to the
original stdout. Anything the handler or a phase prints goes to stderr instead, and the answer's
file descriptor is not inherited by the phase's commands, so nothing else can write the answer.
Only the standard library and the function's own code are used here.
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


def main() -> int:
    answer_fd = os.dup(1)  # not inheritable (PEP 446): the phase's commands never get it
    os.dup2(2, 1)
    started = time.monotonic()
    timeout = float(os.environ.get("AWS_LAMBDA_FUNCTION_TIMEOUT", "900"))
    code = 0
    try:
        event = json.loads(sys.stdin.buffer.read())
        module_name, _, attr = os.environ["_HANDLER"].rpartition(".")
        handler = getattr(importlib.import_module(module_name), attr)
        context = Context(
            os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "function"), timeout - (time.monotonic() - started)
        )
        payload: Any = handler(event, context)
    except Exception as exc:
        payload, code = _error(exc), 1
    data = json.dumps(payload).encode()
    view = memoryview(data)
    while view:
        view = view[os.write(answer_fd, view) :]
    return code


if __name__ == "__main__":
    sys.exit(main())
