"""The command line, run as a real process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    return subprocess.run(
        [sys.executable, "-m", "hello", *args], capture_output=True, text=True, env=env, check=False
    )


@pytest.mark.parametrize("names", [("Ada", "Grace")], ids=["REQ:HELLO-002"])
def test_cli_greets_every_name(names: tuple[str, ...]) -> None:
    result = run_cli(*names)
    assert result.returncode == 0
    assert result.stdout.splitlines() == ["Hello, Ada!", "Hello, Grace!"]


def test_cli_without_names_prints_usage() -> None:
    result = run_cli()
    assert result.returncode == 2
    assert "usage" in result.stderr
