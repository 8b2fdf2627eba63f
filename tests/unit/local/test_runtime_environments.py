"""Warm environments never share a handler module: Powertools' resolver keeps the request on itself."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

from testgenie_local.runtime import FunctionRuntime, load_handler
from testgenie_local.template import FunctionSpec

MODULE = """
import threading
def handler(event, context):
    event.wait()  # a Barrier: both environments are inside a handler at once
    return id(globals())
"""


def test_concurrent_environments_each_have_their_own_module(tmp_path: Path) -> None:
    (tmp_path / "env_state_app.py").write_text(MODULE)
    spec = FunctionSpec("EnvStateFunction", tmp_path, "env_state_app.handler", 30, {})
    runtime = FunctionRuntime(spec, load_handler(spec), max_concurrency=2, load=partial(load_handler, spec))
    barrier = threading.Barrier(2, timeout=30)
    with ThreadPoolExecutor(2) as pool:
        modules = set(pool.map(lambda _: runtime.invoke(barrier), range(2)))
    assert len(modules) == 2, "two environments ran the same module object"


def test_without_a_loader_environments_share_the_handler(tmp_path: Path) -> None:
    (tmp_path / "env_shared_app.py").write_text(MODULE)
    spec = FunctionSpec("EnvSharedFunction", tmp_path, "env_shared_app.handler", 30, {})
    runtime = FunctionRuntime(spec, load_handler(spec), max_concurrency=2)
    barrier = threading.Barrier(2, timeout=30)
    with ThreadPoolExecutor(2) as pool:
        assert len(set(pool.map(lambda _: runtime.invoke(barrier), range(2)))) == 1
