"""The template as data, and the tools venv (SAM CLI, cfn-lint, aws-sam-translator)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import yaml

from tests.support.paths import REPO_ROOT, TEMPLATE
from tests.support.tools import missing_tool

CONTRACT = REPO_ROOT / "tests" / "contract"
TOOLS_BIN = REPO_ROOT / ".venv-tools" / "bin"


class CfnLoader(yaml.SafeLoader):
    """Reads CloudFormation short-form tags (!Ref, !GetAtt, !Sub...) as their long forms."""


def _construct(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {name: value}


CfnLoader.add_multi_constructor("!", _construct)


def tools(name: str) -> Path:
    path = TOOLS_BIN / name
    if not path.exists():
        missing_tool(f"{path}: run `make validate` (it creates .venv-tools with SAM CLI and cfn-lint)")
    return path


def tools_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID="contract-tests",
        AWS_SECRET_ACCESS_KEY="contract-tests",
        AWS_DEFAULT_REGION="us-east-1",
        SAM_CLI_TELEMETRY="0",
    )
    return env


def translate(path: Path) -> dict[str, Any]:
    """A SAM template translated to CloudFormation by aws-sam-translator (in the tools venv)."""
    python = tools("python")
    out = subprocess.run(
        [str(python), str(CONTRACT / "sam_translate.py"), str(path)],
        capture_output=True,
        text=True,
        env=tools_env(),
        cwd=REPO_ROOT,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    data: dict[str, Any] = json.loads(out.stdout)
    return data


def network_variant(out: Path) -> Path:
    """template.yaml as JSON whose defaults are the network (and proxy) parameters."""
    done = subprocess.run(
        [
            str(tools("python")),
            str(CONTRACT / "template_variant.py"),
            str(TEMPLATE),
            str(out),
            "network",
        ],
        capture_output=True,
        text=True,
        env=tools_env(),
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return out


def cfn_lint(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(tools("cfn-lint")), str(path)], capture_output=True, text=True, env=tools_env(), timeout=300
    )


def sam_validate(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(tools("sam")), "validate", "--lint", "--region", "us-east-1", "--template-file", str(path)],
        capture_output=True,
        text=True,
        env=tools_env(),
        cwd=REPO_ROOT,
        timeout=300,
    )


def read_template() -> dict[str, Any]:
    data: dict[str, Any] = yaml.load(TEMPLATE.read_text(), Loader=CfnLoader)  # noqa: S506 - SafeLoader subclass
    return data
