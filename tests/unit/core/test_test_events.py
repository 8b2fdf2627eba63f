"""The tests' HTTP events carry the routeKey and pathParameters API Gateway sends for each route."""

from __future__ import annotations

import re

from tests.support.events import http_event, match_route, routes
from tests.support.paths import TEMPLATE


def _declared_paths() -> list[str]:
    """Every `Path:` of an HttpApi event in template.yaml, read as text (independently of the parser)."""
    return re.findall(r"^\s+Path: (/\S+)$", TEMPLATE.read_text(), flags=re.MULTILINE)


def test_every_route_of_the_template_is_known() -> None:
    declared = _declared_paths()
    assert len(declared) == len(routes()) == 18
    assert sorted(declared) == sorted(route.path for route in routes())


def test_each_route_gets_its_route_key_and_path_parameters() -> None:
    for route in routes():
        values = {name: f"value-of-{name}" for name in route.parameters}
        path = route.path.format(**values)
        event = http_event(route.method, path)
        assert event["routeKey"] == event["requestContext"]["routeKey"] == route.key
        assert event.get("pathParameters") == (values or None)
        assert event["rawPath"] == path


def test_a_static_route_wins_over_a_parameter() -> None:
    assert match_route("GET", "/api/v1/executions/latest") == ("GET /api/v1/executions/latest", None)


def test_a_request_no_route_takes_goes_to_default_without_parameters() -> None:
    event = http_event("PUT", "/api/v1/executions/abc")
    assert event["routeKey"] == "$default"
    assert "pathParameters" not in event
