"""Property: whatever a client sends (method, path, query, headers, body), neither handler answers 5xx."""

from __future__ import annotations

import json
import re
from types import ModuleType
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from testgenie.db import Database
from testgenie.entrypoints.models import SuiteExecutionBody, SuiteRequestBody
from testgenie.models_base import wire_names

from tests.support.context import FakeLambdaContext
from tests.support.events import http_event, routes
from tests.support.handlers import Queues

SEGMENT_ALPHABET = st.characters(
    min_codepoint=32, max_codepoint=0x2FFF, exclude_characters="/?#", exclude_categories=["Cs"]
)
segment = st.one_of(
    st.text(SEGMENT_ALPHABET, min_size=1, max_size=40),
    st.uuids().map(str),
    st.sampled_from(["latest", "unit", "../etc", "%00", "0", "-1", " "]),
)
# Every route of template.yaml (its parameters drawn), plus paths no route takes.
PATH_SHAPES = [*sorted({re.sub(r"\{\w+\}", "{}", route.path) for route in routes()}), "/api/v1/{}", "/{}"]


@st.composite
def paths(draw: st.DrawFn) -> str:
    shape = draw(st.sampled_from(PATH_SHAPES))
    return shape.format(*(draw(segment) for _ in range(shape.count("{}"))))


scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),
    st.text(max_size=30),
    st.just("\x00"),
    st.just("\ud800"),
    st.sampled_from(["demo", "quick", "unit", "high", " demo ", "", "nope"]),
)
json_values = st.recursive(
    scalar,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)
FIELDS = [
    "scenarioName",
    "suiteRequestId",
    "preset",
    "phases",
    "skip",
    "failFast",
    "priority",
    "coverageTarget",
    "requestedTypes",
    "notes",
]
bodies = st.one_of(
    st.none(),
    st.text(max_size=60),
    json_values.map(json.dumps),
    st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=6).map(json.dumps),
)
query_value = st.one_of(st.text(SEGMENT_ALPHABET, max_size=20), st.integers(-(2**40), 2**40).map(str))
queries = st.lists(
    st.tuples(st.sampled_from(["limit", "offset", "scenario", "status", "x"]), query_value), max_size=4
)
headers = st.dictionaries(
    st.sampled_from(["Idempotency-Key", "Content-Type", "Accept"]),
    st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=300),
    max_size=3,
)
methods = st.sampled_from(sorted({route.method for route in routes()} | {"PUT", "PATCH"}))

FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _check(module: ModuleType, event: dict[str, Any]) -> None:
    response = module.lambda_handler(event, FakeLambdaContext())
    status = int(response["statusCode"])
    assert 200 <= status < 500, (status, response.get("body"), event["rawPath"], event.get("body"))
    content_type = response.get("headers", {}).get("Content-Type", "")
    if status >= 400:
        assert content_type == "application/json"
        body = json.loads(response["body"])
        assert set(body) == {"error"}
        assert isinstance(body["error"], str)
        assert body["error"]
        assert "Traceback" not in body["error"]


@FUZZ
@given(method=methods, path=paths(), query=queries, body=bodies, extra=headers)
def test_history_never_answers_5xx(
    env: Queues,
    history_app: ModuleType,
    method: str,
    path: str,
    query: list[tuple[str, str]],
    body: str | None,
    extra: dict[str, str],
) -> None:
    _check(history_app, http_event(method, path, query=query, body=body, headers=extra))


@FUZZ
@given(method=methods, path=paths(), query=queries, body=bodies, extra=headers)
def test_execute_never_answers_5xx(
    env: Queues,
    execute_app: ModuleType,
    method: str,
    path: str,
    query: list[tuple[str, str]],
    body: str | None,
    extra: dict[str, str],
) -> None:
    _check(execute_app, http_event(method, path, query=query, body=body, headers=extra))


@FUZZ
@given(
    body=st.fixed_dictionaries(
        {"scenarioName": st.sampled_from(["demo", " demo", "de mo", "", "x" * 300])},
        optional={k: json_values for k in FIELDS if k != "scenarioName"},
    ).map(json.dumps)
)
def test_plausible_bodies_never_answer_5xx(env: Queues, execute_app: ModuleType, body: str) -> None:
    for path in ("/api/v1/executions", "/api/v1/suite-requests"):
        _check(execute_app, http_event("POST", path, body=body))


# -- beyond the limits: each gets its documented message, and nothing is stored or published ------

BODY_FIELDS = {
    "/api/v1/executions": wire_names(SuiteExecutionBody),
    "/api/v1/suite-requests": wire_names(SuiteRequestBody),
}
body_paths = st.sampled_from(sorted(BODY_FIELDS))
LIMITS = settings(FUZZ, max_examples=60)


def _refused(module: ModuleType, env: Queues, db: Database, path: str, body: str, message: str) -> None:
    response = module.lambda_handler(http_event("POST", path, body=body), FakeLambdaContext())
    error = json.loads(response["body"]).get("error", "")
    assert (int(response["statusCode"]), error[: len(message)]) == (400, message), body[:300]
    row = db.run(
        lambda conn: conn.execute(
            "SELECT (SELECT count(*) FROM suite_requests) + (SELECT count(*) FROM suite_executions) AS n"
        ).fetchone()
    )
    assert row is not None
    assert row["n"] == 0
    assert env.drain() == []


@LIMITS
@given(path=body_paths, data=st.data())
def test_unknown_fields_are_400_naming_the_first_one(
    env: Queues, db: Database, execute_app: ModuleType, path: str, data: st.DataObject
) -> None:
    known = BODY_FIELDS[path]
    unknown = data.draw(
        st.lists(st.text(max_size=20).filter(lambda k: k not in known), min_size=1, max_size=3, unique=True)
    )
    body = {"scenarioName": "demo", **dict.fromkeys(unknown, data.draw(json_values))}
    _refused(execute_app, env, db, path, json.dumps(body), f"unknown field '{unknown[0][:100]}' (")


def _nested_text(kinds: list[bool]) -> str:
    opening = ["[" if is_list else '{"k": ' for is_list in kinds]
    return "".join(opening) + '"unit"' + "".join("]" if is_list else "}" for is_list in reversed(kinds))


@LIMITS
@given(
    path=body_paths,
    kinds=st.lists(st.booleans(), min_size=32, max_size=2_000),
    where=st.sampled_from(["phases", "notes", "zz", "scenarioName"]),
)
def test_nesting_beyond_the_limit_is_400(
    env: Queues, db: Database, execute_app: ModuleType, path: str, kinds: list[bool], where: str
) -> None:
    body = '{"scenarioName": "demo", "' + where + '": ' + _nested_text(kinds) + "}"  # depth len(kinds) + 1
    _refused(execute_app, env, db, path, body, "request body is nested deeper than 32 levels")


@LIMITS
@given(path=body_paths, count=st.integers(min_value=51, max_value=20_000), data=st.data())
def test_lists_beyond_the_cap_are_400(
    env: Queues, db: Database, execute_app: ModuleType, path: str, count: int, data: st.DataObject
) -> None:
    lists = ["phases", "skip"] + (["requestedTypes"] if path.endswith("suite-requests") else [])
    field = data.draw(st.sampled_from(lists))
    body = json.dumps({"scenarioName": "demo", field: [data.draw(st.sampled_from(["unit", "x"]))] * count})
    _refused(
        execute_app,
        env,
        db,
        path,
        body,
        f"{field}: List should have at most 50 items after validation, not {count}",
    )
