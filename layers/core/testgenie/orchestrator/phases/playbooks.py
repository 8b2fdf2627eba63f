"""playbooks: `playbooks/*.json`, each an ordered list of HTTP steps with expectations and captures.

A step's `capture` stores values from its JSON answer (`{"itemId": "data.id"}`) for later steps,
which use them as `${itemId}` in url, headers and body.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import Field
from pydantic import ValidationError as PydanticValidationError

from testgenie.orchestrator.models import Classification
from testgenie.orchestrator.phases.base import PhaseContext, PhaseReport
from testgenie.orchestrator.phases.commands import run_commands_and_tests
from testgenie.orchestrator.phases.http import (
    ConfigProblem,
    Unreachable,
    expand,
    expectation_problems,
    http_request,
    request_timeout,
    resolve_url,
)
from testgenie.orchestrator.planning.testing_config import ConfigModel, HttpMethod, PlaybooksConfig

_MISSING = object()


class Expect(ConfigModel):
    status: int | None = Field(default=200, ge=100, le=599)
    body_contains: str | None = None
    max_ms: int | None = Field(default=None, ge=1)
    json_values: dict[str, Any] = Field(default_factory=dict, alias="json")


class Step(ConfigModel):
    name: str | None = None
    method: HttpMethod = "GET"
    url: str = Field(min_length=1)
    headers: dict[str, str] = Field(default_factory=dict)
    body: str | None = None
    json_body: Any = Field(default=None, alias="json")
    expect: Expect = Field(default_factory=Expect)
    capture: dict[str, str] = Field(default_factory=dict)


class Playbook(ConfigModel):
    name: str | None = None
    base_url: str | None = None
    variables: dict[str, str] = Field(default_factory=dict)
    steps: list[Step] = Field(min_length=1)


def json_path(document: Any, path: str) -> Any:
    """`data.items.0.id` -> document["data"]["items"][0]["id"]; _MISSING when absent."""
    current = document
    for part in path.split(".") if path else []:
        if isinstance(current, dict) and part in current:
            current = current[part]
        elif (
            isinstance(current, list)
            and part.lstrip("-").isdigit()
            and -len(current) <= int(part) < len(current)
        ):
            current = current[int(part)]
        else:
            return _MISSING
    return current


def _expand_json(value: Any, variables: dict[str, str]) -> Any:
    if isinstance(value, str):
        return expand(value, variables)
    if isinstance(value, list):
        return [_expand_json(item, variables) for item in value]
    if isinstance(value, dict):
        return {key: _expand_json(item, variables) for key, item in value.items()}
    return value


def load_playbook(path: Path) -> Playbook:
    return Playbook.model_validate(json.loads(path.read_text(encoding="utf-8")))


def run_playbook(ctx: PhaseContext, playbook: Playbook, label: str) -> str | None:
    """Run the steps in order; return the first problem (and stop there), or None."""
    variables = {**ctx.env, **playbook.variables}
    base_url = playbook.base_url or ctx.testing.base_url
    for index, step in enumerate(playbook.steps):
        step_label = f"{label} step {index + 1}" + (f" ({step.name})" if step.name else "")
        url = resolve_url(step.url, base_url, variables)
        headers = {k: expand(v, variables) for k, v in step.headers.items()}
        body: bytes | None = None
        if step.json_body is not None:
            body = json.dumps(_expand_json(step.json_body, variables)).encode()
            headers.setdefault("Content-Type", "application/json")
        elif step.body is not None:
            body = expand(step.body, variables).encode()
        response = http_request(step.method, url, headers=headers, body=body, timeout=request_timeout(ctx))
        ctx.log.line(f"[playbook] {step_label}: {step.method} {url} -> {response.status}")
        problems = expectation_problems(
            response, step.expect.status, step.expect.body_contains, step.expect.max_ms
        )
        document: Any = _MISSING
        if step.expect.json_values or step.capture:
            try:
                document = json.loads(response.body)
            except ValueError:
                problems.append("answer is not JSON")
        if document is not _MISSING:
            for path, expected in step.expect.json_values.items():
                actual = json_path(document, path)
                if actual is _MISSING or actual != expected:
                    shown = "missing" if actual is _MISSING else json.dumps(actual)
                    problems.append(f"{path} is {shown}, expected {json.dumps(expected)}")
            for variable, path in step.capture.items():
                value = json_path(document, path)
                if value is _MISSING:
                    problems.append(f"cannot capture {variable}: {path} is missing")
                else:
                    variables[variable] = value if isinstance(value, str) else json.dumps(value)
        if problems:
            ctx.log.line(f"[playbook] body: {response.text[:2000]}")
            return f"{step_label}: " + "; ".join(problems)
    return None


def run(ctx: PhaseContext, report: PhaseReport) -> None:
    config = ctx.config if isinstance(ctx.config, PlaybooksConfig) else PlaybooksConfig()
    report.skip_reason = f"no playbooks found ({config.dir}/*.json)"
    folder = ctx.scenario_dir / config.dir
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        label = f"{config.dir}/{path.name}"
        try:
            playbook = load_playbook(path)
        except (ValueError, OSError, PydanticValidationError) as exc:
            report.fail(
                f"{label} is not a valid playbook: {str(exc).splitlines()[0]}",
                Classification.MISCONFIGURATION,
                f"Fix {label}: an object with a non-empty `steps` list (see docs/scenarios.md).",
            )
            continue
        label = f"{label} ({playbook.name})" if playbook.name else label
        try:
            problem = run_playbook(ctx, playbook, label)
        except ConfigProblem as exc:
            report.fail(f"{label}: {exc}", Classification.MISCONFIGURATION, f"Fix {label}.")
        except Unreachable as exc:
            ctx.check_deadline()
            report.fail(
                f"{label}: no answer ({exc})", Classification.MISSING_DEPENDENCY, "Start the service."
            )
        else:
            if problem:
                report.fail(problem, Classification.TEST_FAILURE, "See the failing step in the phase log.")
            else:
                report.ok(f"{label}: {len(playbook.steps)} steps passed")
    run_commands_and_tests(ctx, report)
