"""A clean Python 3.13 venv holding only the runner's declared packages (layers/core + layers/toolchain)
runs hello-python (quick, comprehensive) and a scenario whose test dependency `testgenie push`
vendored — proof that the runner needs nothing of the project's dev venv.

The venv is built once per requirement digest under /var/tmp (pip's cache makes a rebuild quick).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from testgenie_local.bundle import build_bundle, local_target

from tests.support.venvs import clean_venv, needs_python_313

REPO = Path(__file__).resolve().parents[2]
REQUIREMENTS = [
    REPO / "layers" / "core" / "requirements.txt",
    REPO / "layers" / "toolchain" / "requirements.txt",
]
pytestmark = needs_python_313


@pytest.fixture(scope="session")
def clean_python() -> str:
    return clean_venv("clean-runner-venv", REQUIREMENTS)


def _run(python: str, bundle: Path, scenario: str, preset: str) -> list[dict[str, Any]]:
    done = subprocess.run(
        [python, str(Path(__file__).with_name("clean_runner.py")), str(bundle), scenario, preset],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO / "layers" / "core"), "LANG": "C.UTF-8"},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def test_the_clean_venv_holds_only_the_declared_packages(clean_python: str) -> None:
    frozen = subprocess.run(
        [clean_python, "-m", "pip", "freeze"], capture_output=True, text=True, check=True
    ).stdout.lower()
    assert "pytest==" in frozen
    for dev_only in ("hypothesis", "moto", "boto3", "ruff", "schemathesis", "inflection"):
        assert f"{dev_only}==" not in frozen


@pytest.mark.parametrize("preset", ["quick", "comprehensive"])
def test_hello_python_is_green_in_a_clean_313_runner(clean_python: str, tmp_path: Path, preset: str) -> None:
    bundle = tmp_path / "hello-python.tar.gz"
    bundle.write_bytes(build_bundle(REPO / "examples" / "scenarios" / "hello-python", None))
    results = _run(clean_python, bundle, "hello-python", preset)
    assert results
    assert {r["python"][:4] for r in results} == {"3.13"}
    failed = [r for r in results if r["status"] == "failed"]
    assert failed == []
    assert any(r["name"] == "unit" and r["status"] == "passed" for r in results)


def test_a_vendored_third_party_package_is_on_the_path(clean_python: str, tmp_path: Path) -> None:
    scenario = REPO / "tests" / "drills" / "scenarios" / "needs-package"
    bare = tmp_path / "bare.tar.gz"
    bare.write_bytes(build_bundle(scenario, None))
    vendored = tmp_path / "vendored.tar.gz"
    vendored.write_bytes(build_bundle(scenario, local_target(clean_python)))

    without = {r["name"]: r for r in _run(clean_python, bare, "needs-package", "quick")}
    assert without["unit"]["status"] == "failed"
    assert without["unit"]["classification"] == "missing_dependency"
    assert "testgenie push" in without["unit"]["remediation"]

    with_deps = {r["name"]: r for r in _run(clean_python, vendored, "needs-package", "quick")}
    assert with_deps["unit"]["status"] == "passed", with_deps["unit"]
    assert with_deps["unit"]["tests"]["passed"] == 2
    assert sys.executable != clean_python
