"""Powertools keeps the request being resolved on a CLASS, not on the resolver.

`ApiGatewayResolver.resolve` sets `BaseRouter.current_event` and `BaseRouter.lambda_context`, and
routes read them back from there. On Lambda that is harmless: one process serves one event at a time.
The local stack runs a function's warm environments as threads of one process (docs/local-stack.md),
so without this module two environments answering at once read each other's query parameters and
bodies (a dashboard's `?scenario=` filter was seen dropped this way). `isolate_per_thread()` makes
those two attributes thread-local, which is what "one environment, one event" means here.
"""

from __future__ import annotations

import threading
from typing import Any

from aws_lambda_powertools.event_handler.api_gateway import BaseRouter

_ATTRIBUTES = ("current_event", "lambda_context")
_state = threading.local()
_installed = threading.Lock()


class _PerThread:
    """A data descriptor whose value is this thread's; on the class (`BaseRouter.x`, through the
    metaclass) and on its instances (`app.x`) alike."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, owner: object, owner_type: type | None = None) -> Any:
        return getattr(_state, self.name, None)

    def __set__(self, owner: object, value: Any) -> None:
        setattr(_state, self.name, value)


def isolate_per_thread() -> None:
    """Make Powertools' current event and context per thread (idempotent)."""
    with _installed:
        if isinstance(BaseRouter.__dict__.get("current_event"), _PerThread):
            return
        # Instance reads (`self.current_event`) find these in the class dict ...
        for name in _ATTRIBUTES:
            setattr(BaseRouter, name, _PerThread(name))
        # ... class reads and writes (`BaseRouter.current_event = …`) go through the metaclass.
        metaclass = type(BaseRouter)
        per_thread = type(
            f"PerThread{metaclass.__name__}",
            (metaclass,),
            {name: _PerThread(name) for name in _ATTRIBUTES},
        )
        BaseRouter.__class__ = per_thread  # type: ignore[method-assign]  # a metaclass swap, on purpose
