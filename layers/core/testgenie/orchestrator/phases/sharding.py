"""The runner's side of shards (docs/scenarios.md, "Shards"): collect a pytest phase's test ids, and
make a shard's pytest run only its own ids.

A phase is split by test id when its tests are the ones Test Genie detects with pytest (`unit`
without commands, pytest the only runner found); any other sharded phase runs its commands in every
shard with TESTGENIE_SHARD_INDEX / TESTGENIE_SHARD_COUNT. The ids come from a small plugin loaded
into the scenario's own pytest (pytest_shard_plugin.py), not from parsing pytest's output.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from testgenie.orchestrator.phases.base import LogBuffer
from testgenie.orchestrator.phases.process import Command, run_command

PLUGIN_MODULE = "testgenie_shard_plugin"
_PLUGIN_SOURCE = Path(__file__).with_name("pytest_shard_plugin.py")
# pytest's exit codes: 0 collected, 5 nothing to collect, anything else an error (2: collection errors).
_NO_TESTS = 5
ERROR_CHARS = 3000


@dataclass(frozen=True)
class Collected:
    mode: Literal["tests", "commands"]
    test_ids: tuple[str, ...] = ()
    error: str | None = None  # pytest's own message when collection failed


def is_detected_pytest(command: Command) -> bool:
    return not isinstance(command, str) and tuple(command[:3]) == (sys.executable, "-m", "pytest")


def with_plugin(command: Command, env: dict[str, str], plugins_dir: Path) -> tuple[Command, dict[str, str]]:
    """`command` loading the shard plugin, and `env` that finds it (first on PYTHONPATH)."""
    plugins_dir.mkdir(parents=True, exist_ok=True)
    (plugins_dir / f"{PLUGIN_MODULE}.py").write_bytes(_PLUGIN_SOURCE.read_bytes())
    path = os.pathsep.join(p for p in (str(plugins_dir), env.get("PYTHONPATH", "")) if p)
    return (*command, "-p", PLUGIN_MODULE), {**env, "PYTHONPATH": path}


def only_these_tests(
    command: Command, env: dict[str, str], tests: list[str], scratch: Path
) -> tuple[Command, dict[str, str]]:
    """The shard's pytest: the same command, keeping only `tests` (by id, in collection order)."""
    listing = scratch / "shard-tests.json"
    listing.write_text(json.dumps(tests), encoding="utf-8")
    command, env = with_plugin(command, env, scratch / "plugins")
    return command, {**env, "TESTGENIE_SHARD_TESTS": str(listing)}


def collect(
    command: Command, *, cwd: Path, env: dict[str, str], deadline: float, log: LogBuffer, scratch: Path
) -> Collected:
    """`pytest --collect-only` of the phase: its test ids, or pytest's message when it failed."""
    out = scratch / "collected.json"
    plugged, plugged_env = with_plugin((*command, "--collect-only", "-q"), env, scratch / "plugins")
    result = run_command(
        plugged,
        cwd=cwd,
        env={**plugged_env, "TESTGENIE_COLLECT_OUT": str(out)},
        deadline=deadline,
        log=log,
        scratch_dir=scratch,
    )
    if result.returncode not in (0, _NO_TESTS):
        return Collected("tests", error=_pytest_message(result.tail, result.returncode))
    try:
        ids = json.loads(out.read_text(encoding="utf-8")) if out.is_file() else []
    except (OSError, ValueError) as exc:
        return Collected("tests", error=f"the collected test ids could not be read: {exc}")
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        return Collected("tests", error="the collected test ids are not a list of strings")
    return Collected("tests", tuple(dict.fromkeys(ids)))


def _pytest_message(tail: str, returncode: int) -> str:
    """pytest's own report of what went wrong: from its ERRORS section on, else the output's end."""
    start = tail.find("= ERRORS =")
    text = (tail[tail.rfind("\n", 0, start) + 1 :] if start >= 0 else tail).strip()
    if len(text) > ERROR_CHARS:
        text = "…" + text[-ERROR_CHARS:]
    return f"pytest could not collect the tests (exit code {returncode}):\n{text}"
