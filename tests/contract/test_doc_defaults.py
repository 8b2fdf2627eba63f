"""Every default a document states is the code's (as the openapi drift test does for the API).

- README's settings table: `default` is what the stack runs with (the template's value, else the
  layer's), `code: N` the layer's own default when it differs.
- docs/scenarios.md's phase table: each phase's default timeout with the stack's settings.
- docs/local-stack.md and the CLI's stated defaults (port, data folder, poller concurrency).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from testgenie.orchestrator.planning.catalog import phase_descriptors
from testgenie.settings import _ENV_FIELDS, Settings
from testgenie_local.commands.common import DEFAULT_DATA_DIR, DEFAULT_PORT
from testgenie_local.template import Resolver, read_template

REPO_ROOT = Path(__file__).resolve().parents[2]


def _table_rows(markdown: str, first_header: str) -> list[list[str]]:
    """The body rows of the Markdown table whose first header cell is `first_header`."""
    lines = markdown.splitlines()
    start = next(
        i for i, line in enumerate(lines) if re.match(rf"^\|\s*{re.escape(first_header)}\s*\|", line)
    )
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return rows


def _stack_environment() -> dict[str, str]:
    """What template.yaml sets for the functions, resolved with its parameter defaults."""
    template = read_template(REPO_ROOT / "template.yaml")
    resolver = Resolver(template.parameters, conditions=template.conditions, mappings=template.mappings)
    values: dict[str, str] = {}
    for name, fn in template.functions.items():
        for key, raw in fn.environment.items():
            value: Any = resolver.resolve(raw)  # a variable that cannot be resolved fails the test
            if value is None:
                continue  # AWS::NoValue: the variable is not set, so the code's default applies
            assert isinstance(value, int | float | str), f"{name}.{key} resolves to {value!r}"
            assert not isinstance(value, bool), f"{name}.{key} resolves to {value!r}"
            values.setdefault(key, str(value))
    return values


def _code_default(variable: str) -> str | None:
    field = Settings.model_fields[_ENV_FIELDS[variable]]
    return None if field.default is None else str(field.default)


def test_readme_settings_table_states_the_stack_and_code_defaults() -> None:
    rows = _table_rows((REPO_ROOT / "README.md").read_text(), "variable")
    stack = _stack_environment()
    checked = 0
    for variable_cell, _, default_cell in rows:
        for variable in re.findall(r"`([A-Z_]+)`", variable_cell):
            stated = re.match(r"^(\d+)(?: \(code: (\d+)\))?$", default_cell)
            if stated is None:
                continue  # "—", a folder: nothing numeric to compare
            code = _code_default(variable)
            assert stated.group(1) == stack.get(variable, code), f"README: {variable} default"
            assert (stated.group(2) or stated.group(1)) == code, f"README: {variable} code default"
            checked += 1
    assert checked >= 5  # the table was found and read


def test_readme_lists_every_setting() -> None:
    readme = (REPO_ROOT / "README.md").read_text()
    missing = [name for name in _ENV_FIELDS if f"`{name}`" not in readme]
    assert missing == []


def test_scenarios_doc_phase_timeouts_are_the_stacks() -> None:
    rows = _table_rows((REPO_ROOT / "docs" / "scenarios.md").read_text(), "#")
    default = int(_stack_environment()["PHASE_TIMEOUT_SECONDS"])
    actual = {d["name"]: d["defaultTimeoutSeconds"] for d in phase_descriptors(default_timeout=default)}
    stated: dict[str, int] = {}
    for _, phase_cell, timeout_cell, _ in rows:
        name = re.match(r"^`?([a-z-]+)`?", phase_cell)
        seconds = re.search(r"(\d+) s\b", timeout_cell)
        assert name is not None
        assert seconds is not None, timeout_cell
        stated[name.group(1)] = int(seconds.group(1))
    custom = stated.pop("custom")
    assert stated == actual
    assert custom == default


@pytest.mark.parametrize(
    ("document", "pattern", "value"),
    [
        ("docs/local-stack.md", r"testgenie serve \[--port (\d+)\]", str(DEFAULT_PORT)),
        ("docs/local-stack.md", r"\[--data-dir ([^\]]+)\]", str(DEFAULT_DATA_DIR)),
        ("docs/local-stack.md", r"TESTGENIE_POLLER_CONCURRENCY \(default (\d+)\)", "2"),
        ("README.md", r"HTTP server on `127\.0\.0\.1:(\d+)`", str(DEFAULT_PORT)),
    ],
)
def test_local_stack_defaults_in_the_docs(document: str, pattern: str, value: str) -> None:
    found = re.search(pattern, (REPO_ROOT / document).read_text())
    assert found is not None, f"{document}: {pattern} not found"
    assert found.group(1) == value
