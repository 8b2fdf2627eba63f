"""The stack never holds more database connections than DatabaseMaxConnections (docs/deploying.md).

Sum over the functions that can connect of (reserved concurrency x connections per environment) is at
most the budget, for the default and for every other allowed value; a function that can connect and
has no reserved concurrency is unbounded and fails here.
"""

from __future__ import annotations

import ast
from typing import Any

import pytest

from tests.contract.cfn_eval import Evaluated
from tests.support.paths import REPO_ROOT

SECRET = {"DatabaseSecretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf"}
# One connection per execution environment: a Database is one connection and bootstrap builds one per
# environment (layers/core/testgenie/db.py); a migration opens one. CONNECT_SITES pins where
# connections are opened, so a new one fails here until this figure is re-thought.
CONNECTIONS_PER_ENVIRONMENT = 1
CONNECT_SITES = {
    "layers/core/testgenie/db.py": ["psycopg.connect"],
    "layers/core/testgenie/migrate.py": ["psycopg.connect"],
    "layers/core/testgenie/bootstrap.py": ["Database"],
}
_DATABASE_SETTINGS = {"DATABASE_URL", "DATABASE_SECRET_ARN"}


def _budgets(template: dict[str, Any]) -> list[str]:
    return list(template["Parameters"]["DatabaseMaxConnections"]["AllowedValues"])


def _connecting_functions(stack: Evaluated) -> dict[str, dict[str, Any]]:
    """Functions whose environment carries database settings (only they can open a connection)."""
    return {
        logical: resource["Properties"]
        for logical, resource in stack.of_type("AWS::Lambda::Function").items()
        if _DATABASE_SETTINGS & set(resource["Properties"].get("Environment", {}).get("Variables", {}))
    }


def _source_concurrency(stack: Evaluated, function: str) -> list[int]:
    return [
        m["Properties"]["ScalingConfig"]["MaximumConcurrency"]
        for m in stack.of_type("AWS::Lambda::EventSourceMapping").values()
        if m["Properties"]["FunctionName"] == {"Ref": function}
    ]


def test_the_default_budget_is_one_of_the_allowed_values(template: dict[str, Any]) -> None:
    spec = template["Parameters"]["DatabaseMaxConnections"]
    assert spec["Default"] in spec["AllowedValues"]
    assert set(template["Mappings"]["ConnectionBudget"]) == set(spec["AllowedValues"])


@pytest.mark.parametrize("budget", ["default", "10", "40", "320"])
def test_reserved_concurrency_times_connections_fits_the_budget(
    template: dict[str, Any], translated: dict[str, Any], budget: str
) -> None:
    overrides = dict(SECRET) if budget == "default" else {**SECRET, "DatabaseMaxConnections": budget}
    stack = Evaluated(translated, overrides)
    limit = int(stack.parameters["DatabaseMaxConnections"])
    functions = _connecting_functions(stack)
    assert {"ExecuteFunction", "HistoryFunction", "MigrateFunction"} <= set(functions)
    used = 0
    for logical, props in functions.items():
        reserved = props.get("ReservedConcurrentExecutions")
        assert isinstance(reserved, int), f"{logical} can connect but its concurrency is unbounded"
        assert reserved >= 1, logical
        used += reserved * CONNECTIONS_PER_ENVIRONMENT
        # AWS: an SQS source's maximum concurrency above the reserved concurrency only causes throttles.
        sources = _source_concurrency(stack, logical)
        assert sum(sources) <= reserved, (logical, sources, reserved)
        assert all(2 <= s <= 1000 for s in sources), sources
    assert used <= limit, f"{used} connections > DatabaseMaxConnections={limit}"
    assert stack.props("MigrateFunction")["ReservedConcurrentExecutions"] >= 1  # room for a migration


def test_every_allowed_budget_fits_and_keeps_the_http_routes_served(
    template: dict[str, Any], translated: dict[str, Any]
) -> None:
    for budget in _budgets(template):
        stack = Evaluated(translated, {**SECRET, "DatabaseMaxConnections": budget})
        functions = _connecting_functions(stack)
        used = sum(
            p["ReservedConcurrentExecutions"] * CONNECTIONS_PER_ENVIRONMENT for p in functions.values()
        )
        assert used <= int(budget), budget
        execute = functions["ExecuteFunction"]["ReservedConcurrentExecutions"]
        # The POST routes and schedules keep at least one environment beside the two queues.
        assert execute - sum(_source_concurrency(stack, "ExecuteFunction")) >= 1, budget
        assert functions["HistoryFunction"]["ReservedConcurrentExecutions"] >= 1, budget


def test_a_proxy_replaces_the_host_for_every_connecting_function(translated: dict[str, Any]) -> None:
    proxy = "testgenie.proxy-abc.us-east-1.rds.amazonaws.com"
    stack = Evaluated(
        translated, {**SECRET, "DatabaseProxyEndpoint": proxy, "HistoryConcurrencyWithProxy": "300"}
    )
    functions = _connecting_functions(stack)
    for logical, props in functions.items():
        assert props["Environment"]["Variables"]["DATABASE_PROXY_ENDPOINT"] == proxy, logical
    # The proxy pools backend connections, so the read routes may scale past the direct budget.
    assert functions["HistoryFunction"]["ReservedConcurrentExecutions"] == 300
    without = Evaluated(translated, SECRET)
    assert all(
        "DATABASE_PROXY_ENDPOINT" not in p["Environment"]["Variables"]
        for p in _connecting_functions(without).values()
    )


def test_connections_are_opened_only_where_the_budget_expects() -> None:
    sites: dict[str, list[str]] = {}
    for path in sorted((REPO_ROOT / "layers").rglob("*.py")) + sorted(
        (REPO_ROOT / "functions").rglob("*.py")
    ):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = ast.unparse(node.func)
            if name in {"psycopg.connect", "Database", "psycopg.Connection.connect", "ConnectionPool"}:
                sites.setdefault(str(path.relative_to(REPO_ROOT)), []).append(name)
    assert sites == CONNECT_SITES
