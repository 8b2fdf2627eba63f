"""The runner's side of shards, on a real third-party suite: collect a pytest phase's ids, run a
shard's ids only, hand other commands TESTGENIE_SHARD_INDEX / TESTGENIE_SHARD_COUNT."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from uuid import uuid4

import pytest
from testgenie.artifacts import UploadTarget
from testgenie.orchestrator.models import PhasePlan, ShardAssignment
from testgenie.orchestrator.sources.local import LocalScenarioSource
from testgenie.runner.phase import run_invocation
from testgenie.runner.protocol import PhaseAnswer, PhaseInvocation
from testgenie.shards.split import split_tests

from tests.support.paths import REPO_ROOT

THIRD_PARTY = REPO_ROOT / "tests" / "e2e" / "scenarios" / "more-itertools"
# Nothing listens on the discard port: the log upload fails at once and the answer says so.
NOWHERE = "http://127.0.0.1:9/upload"


@pytest.fixture(scope="module")
def scenarios(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("scenarios")
    shutil.copytree(THIRD_PARTY, root / "more-itertools", ignore=shutil.ignore_patterns("__pycache__"))
    broken = root / "broken"
    (broken / "tests").mkdir(parents=True)
    (broken / "tests" / "test_ok.py").write_text("def test_ok():\n    assert True\n")
    (broken / "tests" / "test_broken.py").write_text(
        "import no_such_module_here\n\ndef test_x():\n    pass\n"
    )
    commands = root / "by-commands"
    (commands / ".testgenie").mkdir(parents=True)
    (commands / ".testgenie" / "testing.json").write_text(
        json.dumps(
            {
                "phases": {
                    "unit": {
                        # The shard's part, named in a JUnit report the answer carries back.
                        "commands": [
                            'printf \'<testsuite><testcase classname="shard" name="part-%s-of-%s"/>'
                            '</testsuite>\' "$TESTGENIE_SHARD_INDEX" "$TESTGENIE_SHARD_COUNT" '
                            '> "$TESTGENIE_REPORTS_DIR/part.xml"'
                        ]
                    }
                }
            }
        )
    )
    return root


def _invocation(
    scenarios: Path, name: str, *, collect: bool = False, shard: ShardAssignment | None = None
) -> PhaseInvocation:
    execution = uuid4()
    return PhaseInvocation(
        execution_id=execution,
        scenario_name=name,
        bundle=LocalScenarioSource(scenarios, scenarios.parent / f"packed-{name}").bundle(name),
        plan=PhasePlan(scenario_name=name, phases=["unit"]),
        phase="unit",
        timeout_seconds=240,
        log_upload=UploadTarget(url=NOWHERE, key=f"executions/{execution}/unit.log"),
        collect_only=collect,
        shard=shard,
    )


def _bare_collection(folder: Path) -> list[str]:
    """What bare `python -m pytest --collect-only` finds, with the same interpreter."""
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert out.returncode == 0, out.stdout[-2000:]
    return [line for line in out.stdout.splitlines() if "::" in line and not line.startswith(" ")]


def _run(invocation: PhaseInvocation, parent: Path) -> PhaseAnswer:
    return run_invocation(invocation, workspace_parent=parent)


def test_the_collected_ids_are_bare_pytests_and_four_shards_run_each_once(
    scenarios: Path, tmp_path: Path
) -> None:
    collected = _run(_invocation(scenarios, "more-itertools", collect=True), tmp_path)
    assert collected.collection is not None
    assert collected.collection.mode == "tests"
    assert collected.collection.error is None
    ids = collected.collection.test_ids
    assert ids == _bare_collection(scenarios / "more-itertools")
    assert len(ids) > 100
    assert collected.log_stored is False  # nowhere to upload: said, not hidden
    assert collected.warnings

    parts = split_tests(ids, {}, 4)
    ran: list[str] = []
    for index, part in enumerate(parts):
        answer = _run(
            _invocation(scenarios, "more-itertools", shard=ShardAssignment(index=index, count=4, tests=part)),
            tmp_path,
        )
        assert answer.result.status == "passed", answer.result.error
        assert answer.result.tests is not None
        ran.extend(f"{t.classname}::{t.name}" for t in answer.tests if t.phase == "unit")
        assert answer.result.tests.total == len(part)
    # Each shard ran its part and nothing else: every collected test once, none twice.
    assert len(ran) == len(set(ran))
    assert len(ran) == len(ids)


def test_a_collection_error_is_pytests_own_message(scenarios: Path, tmp_path: Path) -> None:
    answer = _run(_invocation(scenarios, "broken", collect=True), tmp_path)
    assert answer.collection is not None
    assert answer.collection.mode == "tests"
    error = answer.collection.error or ""
    assert error.startswith("pytest could not collect the tests (exit code 2):")
    assert "ERROR collecting tests/test_broken.py" in error
    assert "No module named 'no_such_module_here'" in error
    assert answer.result.status == "failed"
    assert answer.result.classification == "misconfiguration"


def test_a_phase_with_commands_is_split_by_its_commands(scenarios: Path, tmp_path: Path) -> None:
    collected = _run(_invocation(scenarios, "by-commands", collect=True), tmp_path)
    assert collected.collection is not None
    assert collected.collection.mode == "commands"
    assert collected.collection.test_ids == []

    answer = _run(_invocation(scenarios, "by-commands", shard=ShardAssignment(index=2, count=3)), tmp_path)
    assert answer.result.status == "passed"
    assert [t.name for t in answer.tests] == ["part-2-of-3"]
    unsharded = _run(_invocation(scenarios, "by-commands"), tmp_path)
    assert [t.name for t in unsharded.tests] == ["part--of-"]  # an unsharded phase sees neither


def test_a_shard_assignment_must_name_a_shard_of_the_count() -> None:
    with pytest.raises(ValueError, match="shard index 3 is not below the shard count 3"):
        ShardAssignment(index=3, count=3)
