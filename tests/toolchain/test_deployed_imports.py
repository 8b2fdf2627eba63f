"""Each function's handler imports with only what its deployment holds: CoreLayer's requirements, the
function's own requirements.txt and the boto3 the Lambda runtime brings (RunnerFunction: CoreLayer and
ToolchainLayer, no boto3), in a clean Python 3.13 venv. The dev venv holds everything, so an import of
a package only another function ships (the durable SDK in ExecuteFunction, once) passes every other
test and fails on AWS at the first cold start."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.support.venvs import clean_venv, needs_python_313

REPO = Path(__file__).resolve().parents[2]
CORE = REPO / "layers" / "core" / "requirements.txt"
TOOLCHAIN = REPO / "layers" / "toolchain" / "requirements.txt"
RUNTIME = ("boto3",)  # in the python3.13 Lambda runtime
pytestmark = needs_python_313

# function: (its code folder, the module its Handler names, its own requirements, runtime packages)
FUNCTIONS = {
    "ExecuteFunction": (
        "functions/execute",
        "execute_app",
        [REPO / "functions/execute/requirements.txt"],
        RUNTIME,
    ),
    "HistoryFunction": (
        "functions/history",
        "history_app",
        [REPO / "functions/history/requirements.txt"],
        RUNTIME,
    ),
    "CoordinatorFunction": (
        "functions/coordinator",
        "coordinator_app",
        [REPO / "functions/coordinator/requirements.txt"],
        RUNTIME,
    ),
    "MigrateFunction": ("migrations", "testgenie.migrate", [], RUNTIME),
    "RunnerFunction": ("functions/runner", "runner_app", [TOOLCHAIN], ()),
}
# What an import loaded, of the packages that matter here.
PROBE = """
import importlib, json, sys
importlib.import_module(sys.argv[1])
print(json.dumps(sorted({m.split(".")[0] for m in sys.modules} & {"boto3", "aws_durable_execution_sdk_python"})))
"""


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_the_handler_imports_with_only_its_deployed_packages(function: str) -> None:
    code, module, requirements, runtime = FUNCTIONS[function]
    python = clean_venv("deployed-function", [CORE, *requirements], runtime)
    done = subprocess.run(
        [python, "-c", PROBE, module],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
        cwd="/",
        env={
            "PATH": "/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "AWS_DEFAULT_REGION": "us-east-1",
            "PYTHONPATH": f"{REPO / code}:{REPO / 'layers' / 'core'}",
        },
    )
    assert done.returncode == 0, done.stderr[-3000:]
    loaded = json.loads(done.stdout.splitlines()[-1])
    if function == "HistoryFunction":
        assert loaded == []  # the read side never loads boto3 (docs/performance.md, cold start)
    if function in {"ExecuteFunction", "HistoryFunction"}:
        assert "aws_durable_execution_sdk_python" not in loaded  # the coordinator's alone
