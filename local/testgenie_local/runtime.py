"""Loads a template function's handler in-process and invokes it the way Lambda would.

Each invocation gets a fresh fake context whose `get_remaining_time_in_millis` honours the
function's Timeout. A function keeps up to `max_concurrency` warm execution environments, each a
daemon thread that runs one invocation at a time and keeps its own state (the layer's Database gives
each environment its own connection), as Lambda does.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import queue
import sys
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from testgenie_local.identities import act_as
from testgenie_local.router_state import isolate_per_thread
from testgenie_local.template import FunctionSpec

Handler = Callable[[Any, Any], Any]


@dataclass
class FakeLambdaContext:
    function_name: str
    timeout_seconds: int
    memory_limit_in_mb: int = 1024
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    region: str = "us-east-1"
    account: str = "123456789012"
    _deadline: float = 0.0

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_seconds

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:{self.account}:function:{self.function_name}"

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    @property
    def log_stream_name(self) -> str:
        return f"local/[{self.function_version}]{self.aws_request_id[:8]}"

    @property
    def identity(self) -> None:
        return None

    @property
    def client_context(self) -> None:
        return None

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def load_handler(spec: FunctionSpec, environment: int | None = None) -> Handler:
    """Import `Handler` from `CodeUri` (and the function's layers) as Lambda would.

    `environment` n > 0 loads a private copy of the module: module state (Powertools' resolver keeps
    the current request on itself) must not be shared by environments that run at the same time.
    """
    for path in [*spec.layers, spec.code_uri]:
        text = str(path)
        if text not in sys.path:
            sys.path.insert(0, text)
    module_name = spec.module_name
    module_file = spec.code_uri / (module_name.replace(".", "/") + ".py")
    existing = sys.modules.get(module_name)
    if environment or (
        existing is not None
        and Path(getattr(existing, "__file__", "") or "").resolve() != module_file.resolve()
    ):
        # Another environment, or another function's module of the same name: a private name.
        suffix = f"_env{environment}" if environment else ""
        loaded = importlib.util.spec_from_file_location(
            f"_{spec.logical_id}{suffix}_{module_name}", module_file
        )
        if loaded is None or loaded.loader is None:
            raise ImportError(f"cannot load {module_file}")
        module = importlib.util.module_from_spec(loaded)
        sys.modules[loaded.name] = module
        loaded.loader.exec_module(module)
    else:
        module = importlib.import_module(module_name)
    handler = getattr(module, spec.function_name, None)
    if not callable(handler):
        raise ImportError(f"{spec.logical_id}: {spec.handler} is not a callable in {module_file}")
    return handler  # type: ignore[no-any-return]


class FunctionRuntime:
    """One template function, invocable from several threads.

    Like Lambda, it keeps a fixed set of warm execution environments: worker threads that each run one
    invocation at a time and keep their own state across invocations (a database connection each).
    """

    def __init__(
        self,
        spec: FunctionSpec,
        handler: Handler,
        max_concurrency: int = 8,
        *,
        load: Callable[[int], Handler] | None = None,
    ) -> None:
        """`load(n)` gives environment n > 0 a handler of its own (see load_handler); without it
        every environment shares `handler`."""
        isolate_per_thread()  # environments are threads of this process: Powertools' event per thread
        self.spec = spec
        self.handler = handler
        self._environments = _Environments(max_concurrency, spec.logical_id, handler, load)
        self.invocations = 0
        self._count_lock = threading.Lock()

    @property
    def name(self) -> str:
        return self.spec.logical_id

    def context(self) -> FakeLambdaContext:
        return FakeLambdaContext(
            function_name=self.spec.logical_id, timeout_seconds=self.spec.timeout_seconds
        )

    def invoke(self, event: Any) -> Any:
        """Run the handler on `event` in a free environment (waiting for one when all are busy);
        exceptions propagate (the caller maps them as AWS would)."""
        with self._count_lock:
            self.invocations += 1
        context = self.context()  # the clock starts when the invocation is made, as in Lambda
        return self._environments.run(event, context)


class _Environments:
    """A fixed set of daemon threads (an abandoned invocation never holds the process open).

    Each loads its handler on its first invocation (its cold start), so none shares module state.
    """

    def __init__(self, size: int, name: str, handler: Handler, load: Callable[[int], Handler] | None) -> None:
        self._jobs: queue.SimpleQueue[tuple[Any, Any, Future[Any]]] = queue.SimpleQueue()
        self._handler = handler
        self._load = load
        self._name = name
        for index in range(max(1, size)):
            threading.Thread(
                target=self._serve, args=(index,), name=f"{name}-env-{index}", daemon=True
            ).start()

    def _serve(self, index: int) -> None:
        act_as(self._name)  # this environment calls AWS with its function's keys (identities.py)
        handler: Handler | None = None
        while True:
            event, context, future = self._jobs.get()
            if not future.set_running_or_notify_cancel():
                continue
            try:
                if handler is None:
                    handler = self._load(index) if self._load is not None and index else self._handler
                future.set_result(handler(event, context))
            except BaseException as exc:  # handed to the caller, who maps it as AWS would
                future.set_exception(exc)

    def run(self, event: Any, context: Any) -> Any:
        future: Future[Any] = Future()
        self._jobs.put((event, context, future))
        return future.result()


class InProcessHandler:
    """A function of this process behind the Lambda endpoint (Invocable): JSON in, JSON out, an
    exception answered as Lambda answers a function error."""

    per_tenant = False

    def __init__(self, runtime: FunctionRuntime) -> None:
        self.runtime = runtime

    def invoke(self, payload: bytes, tenant: str | None = None) -> tuple[str | None, bytes]:
        try:
            result = self.runtime.invoke(json.loads(payload or b"{}"))
        except Exception as exc:
            error = {"errorType": type(exc).__name__, "errorMessage": str(exc)[:2000]}
            return "Unhandled", json.dumps(error).encode()
        return None, json.dumps(result).encode()
