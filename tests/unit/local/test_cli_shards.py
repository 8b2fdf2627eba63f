"""The CLI and shards: `--shards` on run/execute, a bar per shard in `show`, `log --shard K`."""

from __future__ import annotations

from typing import Any

import pytest
from testgenie_local.cli import build_parser
from testgenie_local.commands.common import plan_body
from testgenie_local.console import print_result, shard_lines


@pytest.mark.parametrize(("given", "sent"), [("4", 4), ("auto", "auto"), ("lots", "lots")])
def test_shards_go_into_the_request_body(given: str, sent: object) -> None:
    for command in ("run", "execute"):
        args = build_parser().parse_args([command, "demo", "--shards", given])
        assert plan_body(args) == {"scenarioName": "demo", "shards": sent}  # the API refuses "lots"


def _sharded(*shards: tuple[str, int, int]) -> dict[str, Any]:
    return {
        "name": "unit",
        "status": "failed",
        "durationMs": 2000,
        "tests": {"total": 9, "passed": 8, "failed": 1},
        "shards": [
            {"index": i, "status": status, "durationMs": took, "tests": 3, "attempts": attempts}
            for i, (status, took, attempts) in enumerate(shards)
        ],
    }


def test_show_draws_a_bar_per_shard_against_the_longest() -> None:
    lines = shard_lines([_sharded(("passed", 1000, 1), ("failed", 2000, 1), ("passed", 500, 2))])
    assert lines[0] == "unit: 3 shards"
    bars = [line.split()[4] for line in lines[1:]]
    assert [bar.count("█") for bar in bars] == [12, 24, 6]
    assert "(2 attempts)" in lines[3]
    assert "✘ failed" in lines[2]
    assert shard_lines([{"name": "lint", "status": "passed"}]) == []


def test_print_result_shows_the_shards(capsys: pytest.CaptureFixture[str]) -> None:
    result = {
        "executionId": "e1",
        "scenarioName": "demo",
        "outcome": "failed",
        "success": False,
        "phases": [_sharded(("passed", 10, 1), ("failed", 20, 1))],
    }
    print_result(result)
    shown = capsys.readouterr().out
    assert "unit: 2 shards" in shown
    assert "shard 1 ✘ failed" in shown


def test_log_takes_a_shard() -> None:
    args = build_parser().parse_args(["log", "e1", "unit", "--shard", "2"])
    assert (args.execution, args.phase, args.shard) == ("e1", "unit", 2)
    assert build_parser().parse_args(["log", "e1", "unit"]).shard is None
