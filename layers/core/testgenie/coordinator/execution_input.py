"""The input of a durable execution of CoordinatorFunction: written by ExecuteFunction when it starts
one (control.py), read by the coordinator (flow.py). A module of its own so that ExecuteFunction, which
is deployed without the durable SDK (functions/coordinator/requirements.txt has it), never imports the
coordinator's flow (docs/architecture.md, "Durable executions")."""

from __future__ import annotations

from typing import Any
from uuid import UUID


def start_event(suite_request_id: UUID) -> dict[str, str]:
    """The input of a durable execution (its name is the request id: docs/architecture.md)."""
    return {"suiteRequestId": str(suite_request_id)}


def request_id_of(event: Any) -> UUID:
    """The suite request an execution's input names; ValueError when it names none."""
    try:
        return UUID(str(event["suiteRequestId"]))
    except (KeyError, TypeError, ValueError):
        raise ValueError(f"the execution's input has no valid suiteRequestId: {str(event)[:200]}") from None
