"""Following a suite request until it ends, showing its progress on the way."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from testgenie.queue.models import TERMINAL

from testgenie_local.client import ApiClient
from testgenie_local.console import ProgressView
from testgenie_local.polling import wait_for


class FollowTimeout(Exception):
    """The request was still not terminal when the wait ran out."""


def follow_request(
    client: ApiClient,
    request_id: str,
    *,
    timeout: float,
    interval: float = 0.5,
    view: ProgressView | None = None,
    stop: Callable[[], bool] | None = None,
) -> dict[str, Any]:
    """Poll GET /suite-requests/{id} until it is terminal (or `stop()` says so); FollowTimeout after `timeout` s."""
    last: dict[str, Any] = {}

    def ended() -> dict[str, Any] | None:
        request: dict[str, Any] = client.get(f"/suite-requests/{request_id}")
        last.update(request)
        if view is not None:
            view.update(request)
        if request.get("status") in TERMINAL or (stop is not None and stop()):
            return request
        return None

    try:
        found = wait_for(ended, timeout, f"suite request {request_id}", interval=interval)
    except TimeoutError:
        raise FollowTimeout(
            f"suite request {request_id} is still {last.get('status')} after {timeout:.0f}s"
        ) from None
    return found or last
