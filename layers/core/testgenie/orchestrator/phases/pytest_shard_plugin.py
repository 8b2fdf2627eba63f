"""A pytest plugin the runner hands to a sharded pytest phase (docs/scenarios.md, "Shards").

It runs inside the scenario's own pytest (copied into the run's scratch folder, never imported by
the service): TESTGENIE_COLLECT_OUT receives the collected test ids as JSON, and
TESTGENIE_SHARD_TESTS (a JSON list of test ids) keeps only those tests. Reading the ids from a file
and the item list, not from the command line or pytest's printed output, works for any number of
tests and whatever verbosity a project's own pytest settings choose.
"""

from __future__ import annotations

import json
import os
from typing import Any


def pytest_collection_modifyitems(config: Any, items: list[Any]) -> None:
    wanted_file = os.environ.get("TESTGENIE_SHARD_TESTS")
    if not wanted_file:
        return
    with open(wanted_file, encoding="utf-8") as handle:
        wanted = set(json.load(handle))
    kept = [item for item in items if item.nodeid in wanted]
    dropped = [item for item in items if item.nodeid not in wanted]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
    items[:] = kept


def pytest_collection_finish(session: Any) -> None:
    out = os.environ.get("TESTGENIE_COLLECT_OUT")
    if out:
        with open(out, "w", encoding="utf-8") as handle:
            json.dump([item.nodeid for item in session.items], handle)
