"""Starting and stopping durable executions of CoordinatorFunction (lambda:Invoke, StopDurableExecution).

An execution is named after its suite request id (`DurableExecutionName`), so however often a request
is delivered, one execution runs it: a second start of the name is refused by Lambda
(`DurableExecutionAlreadyStartedException`), which this module reports as "already started".
boto3 is imported lazily: only ExecuteFunction starts and stops executions.
"""

from __future__ import annotations

import json
import threading
from typing import Any, Protocol
from uuid import UUID

from testgenie.coordinator.execution_input import start_event
from testgenie.errors import TransientError

_ALREADY_STARTED = "DurableExecutionAlreadyStartedException"
# Client errors retrying cannot fix; anything else (throttling, 5xx, the network) is transient.
_PERMANENT = {"ResourceNotFoundException", "InvalidParameterValueException", "AccessDeniedException"}


class DurableStartError(Exception):
    """A start Lambda refused for good (no such function, no permission): retrying cannot help."""


class DurableControl(Protocol):
    def start(self, suite_request_id: UUID) -> str | None:
        """Start the request's execution; its ARN, or None when it was started before."""
        ...

    def stop(self, execution_arn: str, reason: str) -> bool:
        """Stop a running execution at once; False when it had already ended or is unknown."""
        ...

    def ended(self, suite_request_id: UUID) -> str | None:
        """The status of the request's execution when it has ended (SUCCEEDED, FAILED, TIMED_OUT,
        STOPPED); None while it runs or when there is none."""
        ...


class LambdaDurableControl:
    """DurableControl through Lambda's API (the local stack's endpoint serves the same calls)."""

    def __init__(self, function_name: str, client: Any = None) -> None:
        self.function_name = function_name  # a qualified ARN or name:alias (durable functions need one)
        self._client = client
        self._lock = threading.Lock()

    @property
    def client(self) -> Any:
        with self._lock:
            if self._client is None:
                import boto3
                from botocore.config import Config

                self._client = boto3.client(
                    "lambda", config=Config(connect_timeout=5, read_timeout=30, retries={"mode": "standard"})
                )
            return self._client

    def start(self, suite_request_id: UUID) -> str | None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            response = self.client.invoke(
                FunctionName=self.function_name,
                InvocationType="Event",
                DurableExecutionName=str(suite_request_id),
                Payload=json.dumps(start_event(suite_request_id)).encode(),
            )
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code == _ALREADY_STARTED:
                return None
            if code in _PERMANENT:
                raise DurableStartError(f"the coordinator cannot be started: {code}: {exc}") from None
            raise TransientError(f"starting the durable execution failed: {code or exc}") from None
        except BotoCoreError as exc:
            raise TransientError(f"starting the durable execution failed: {exc}") from None
        arn: str | None = response.get("DurableExecutionArn")
        return arn or ""

    def stop(self, execution_arn: str, reason: str) -> bool:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.stop_durable_execution(
                DurableExecutionArn=execution_arn,
                Error={"ErrorType": "Cancelled", "ErrorMessage": reason[:1000]},
            )
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in {"ResourceNotFoundException", "ConflictException"}:
                return False
            raise TransientError(f"stopping the durable execution failed: {code or exc}") from None
        except BotoCoreError as exc:
            raise TransientError(f"stopping the durable execution failed: {exc}") from None
        return True

    def ended(self, suite_request_id: UUID) -> str | None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            page = self.client.list_durable_executions_by_function(
                FunctionName=_unqualified(self.function_name), DurableExecutionName=str(suite_request_id)
            )
        except (ClientError, BotoCoreError) as exc:
            raise TransientError(f"looking up the durable execution failed: {exc}") from None
        statuses = {str(item.get("Status")) for item in page.get("DurableExecutions") or []}
        if not statuses or statuses & {"RUNNING", "PENDING", "PAUSED"}:
            return None
        return sorted(statuses)[0]


def _unqualified(function: str) -> str:
    """A function's name or ARN without its version or alias (`name:live` -> `name`)."""
    if function.startswith("arn:"):
        parts = function.split(":")
        return ":".join(parts[:7])
    return function.split(":", 1)[0]
