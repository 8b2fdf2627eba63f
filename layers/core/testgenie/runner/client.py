"""The coordinator's side of an invocation: call RunnerFunction, and accept only a valid answer.

Every way the runner can let the coordinator down ends in RunnerFailure (`timed_out` tells a timeout
from a crash); the coordinator turns it into an `errored` / `timeout` execution, never a lost one.
boto3 is imported lazily: only the coordinator calls AWS here.
"""

from __future__ import annotations

import json
import threading
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, Protocol

from pydantic import ValidationError as PydanticValidationError

from testgenie.runner.protocol import MAX_ANSWER_BYTES, PhaseAnswer, PhaseInvocation
from testgenie.runner.tenancy import tenant_for

_MESSAGE_CHARS = 500
# What Lambda says when a function ran out of its Timeout.
_TIMEOUT_MARKERS = ("Task timed out", "Sandbox.Timedout")


class RunnerFailure(Exception):
    """The runner did not give a usable answer."""

    def __init__(self, message: str, *, timed_out: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.timed_out = timed_out


class RunnerClient(Protocol):
    def run_phase(self, invocation: PhaseInvocation, wait_seconds: float) -> PhaseAnswer:
        """Run one phase in the runner; RunnerFailure when no valid answer came within wait_seconds."""
        ...


def short_message(text: str) -> str:
    """One line, at most 500 characters (what a record keeps of a runner's error)."""
    text = " ".join(text.split())
    return text if len(text) <= _MESSAGE_CHARS else text[: _MESSAGE_CHARS - 1] + "…"


def parse_answer(raw: bytes, invocation: PhaseInvocation) -> PhaseAnswer:
    """The typed answer to exactly this invocation, or RunnerFailure("malformed runner answer: …")."""
    if len(raw) > MAX_ANSWER_BYTES:
        raise RunnerFailure(f"malformed runner answer: {len(raw)} bytes (at most {MAX_ANSWER_BYTES})")
    try:
        answer = PhaseAnswer.model_validate_json(raw)
        answer.check_answers(invocation)
    except PydanticValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'answer'}: {err['msg']}" for err in exc.errors()[:3]
        )
        raise RunnerFailure(f"malformed runner answer: {short_message(problems)}") from None
    except ValueError as exc:
        raise RunnerFailure(f"malformed runner answer: {short_message(str(exc))}") from None
    return answer


def function_error(kind: str, raw: bytes) -> RunnerFailure:
    """A FunctionError answer (the handler raised, the process died, or the Timeout passed)."""
    try:
        body = json.loads(raw)
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    message = str(body.get("errorMessage") or raw[:_MESSAGE_CHARS].decode("utf-8", "replace") or kind)
    error_type = str(body.get("errorType") or kind)
    timed_out = any(marker in f"{error_type} {message}" for marker in _TIMEOUT_MARKERS)
    if timed_out:
        return RunnerFailure(f"the runner timed out: {short_message(message)}", timed_out=True)
    return RunnerFailure(f"the runner crashed ({error_type}): {short_message(message)}")


class LambdaRunnerClient:
    """RunnerFunction through lambda:Invoke (RequestResponse). Retries are off: a phase never runs
    twice because an answer was slow; the wait is bounded here, not by the HTTP read timeout alone."""

    def __init__(self, function_name: str, function_timeout_seconds: int = 900, client: Any = None) -> None:
        self.function_name = function_name
        self.function_timeout_seconds = function_timeout_seconds
        self._client = client
        self._lock = threading.Lock()

    @property
    def client(self) -> Any:
        with self._lock:
            if self._client is None:
                import boto3
                from botocore.config import Config

                self._client = boto3.client(
                    "lambda",
                    config=Config(
                        connect_timeout=10,
                        read_timeout=self.function_timeout_seconds + 30,
                        retries={"total_max_attempts": 1},
                        tcp_keepalive=True,
                    ),
                )
            return self._client

    def _invoke(self, invocation: PhaseInvocation) -> tuple[str | None, bytes]:
        response = self.client.invoke(
            FunctionName=self.function_name,
            InvocationType="RequestResponse",
            Payload=invocation.model_dump_json(by_alias=True).encode(),
            TenantId=tenant_for(invocation.scenario_name),  # environments of this scenario only
        )
        raw: bytes = response["Payload"].read()
        return response.get("FunctionError"), raw

    def run_phase(self, invocation: PhaseInvocation, wait_seconds: float) -> PhaseAnswer:
        future: Future[tuple[str | None, bytes]] = Future()

        def call() -> None:
            try:
                future.set_result(self._invoke(invocation))
            except BaseException as exc:  # handed to the waiting coordinator
                future.set_exception(exc)

        # A daemon thread: an abandoned invocation (the wait ran out) never holds the process open.
        threading.Thread(target=call, name=f"runner-{invocation.phase}", daemon=True).start()
        try:
            error_kind, raw = future.result(timeout=max(0.0, wait_seconds))
        except FutureTimeout:
            raise RunnerFailure(
                f"the runner gave no answer within {wait_seconds:.1f}s", timed_out=True
            ) from None
        except Exception as exc:
            timed_out = "timeout" in type(exc).__name__.lower() or "timed out" in str(exc).lower()
            raise RunnerFailure(
                f"the runner could not be invoked: {type(exc).__name__}: {short_message(str(exc))}",
                timed_out=timed_out,
            ) from None
        if error_kind:
            raise function_error(error_kind, raw)
        return parse_answer(raw, invocation)
