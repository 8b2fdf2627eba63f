from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from testgenie_local.gateway import Gateway, Route, Router, build_event, map_response
from testgenie_local.runtime import FunctionRuntime, load_handler
from testgenie_local.template import FunctionSpec, HttpRoute, Template

_RUNTIME = FunctionRuntime(
    FunctionSpec("F", code_uri=Path("."), handler="m.h", timeout_seconds=3, environment={}),
    lambda e, c: None,
)


def _route(path: str, method: str = "GET") -> Route:
    return Route(method, path, _RUNTIME)


def _router(*routes: tuple[str, str]) -> Router:
    return Router([(HttpRoute(method, path, "E"), _RUNTIME) for path, method in routes])


def test_event_has_the_payload_2_0_shape() -> None:
    route = _route("/api/v1/things/{id}/parts/{name}/log")
    event = build_event(
        route=route,
        path_params={"id": "a b", "name": "unit"},
        method="GET",
        raw_path="/api/v1/things/a%20b/parts/unit/log",
        raw_query="limit=5&tag=x&tag=y&empty=",
        headers=[
            ("Content-Type", "application/json"),
            ("X-Multi", "1"),
            ("x-multi", "2"),
            ("Cookie", "a=1; b=2"),
        ],
        body=b'{"k": "v"}',
        source_ip="127.0.0.1",
        domain="localhost",
        now=1_700_000_000.0,
    )
    assert event["version"] == "2.0"
    assert event["routeKey"] == "GET /api/v1/things/{id}/parts/{name}/log"
    assert event["rawPath"] == "/api/v1/things/a%20b/parts/unit/log"
    assert event["rawQueryString"] == "limit=5&tag=x&tag=y&empty="
    assert event["queryStringParameters"] == {"limit": "5", "tag": "x,y", "empty": ""}
    assert event["pathParameters"] == {"id": "a b", "name": "unit"}
    assert event["headers"] == {"content-type": "application/json", "x-multi": "1,2"}
    assert event["cookies"] == ["a=1", "b=2"]
    assert (event["body"], event["isBase64Encoded"]) == ('{"k": "v"}', False)
    ctx = event["requestContext"]
    assert ctx["http"] == {
        "method": "GET",
        "path": "/api/v1/things/a%20b/parts/unit/log",
        "protocol": "HTTP/1.1",
        "sourceIp": "127.0.0.1",
        "userAgent": "",
    }
    assert ctx["routeKey"] == event["routeKey"]
    assert ctx["stage"] == "$default"
    assert ctx["timeEpoch"] == 1_700_000_000_000
    assert ctx["time"] == "14/Nov/2023:22:13:20 +0000"
    assert ctx["authorizer"]["iam"]["accountId"] == ctx["accountId"]
    assert ctx["requestId"]


def test_event_without_query_params_or_body_omits_them_and_binary_is_base64() -> None:
    event = build_event(
        route=_route("/x"),
        path_params={},
        method="GET",
        raw_path="/x",
        raw_query="",
        headers=[],
        body=b"",
        source_ip="127.0.0.1",
        domain="localhost",
    )
    assert "queryStringParameters" not in event
    assert "pathParameters" not in event
    assert "body" not in event
    assert event["isBase64Encoded"] is False
    binary = build_event(
        route=_route("/x", "POST"),
        path_params={},
        method="POST",
        raw_path="/x",
        raw_query="",
        headers=[("content-type", "application/gzip")],
        body=b"\x1f\x8b\x00\xff",
        source_ip="127.0.0.1",
        domain="localhost",
    )
    assert binary["isBase64Encoded"] is True
    assert base64.b64decode(binary["body"]) == b"\x1f\x8b\x00\xff"


def test_router_prefers_literal_segments_and_extracts_parameters() -> None:
    router = _router(
        ("/api/v1/things/{id}", "GET"),
        ("/api/v1/things/latest", "GET"),
        ("/api/v1/things/{id}/parts/{name}/log", "GET"),
        ("/api/v1/{proxy+}", "ANY"),
        ("/api/v1/things", "POST"),
    )
    assert _find(router, "GET", "/api/v1/things/latest") == ("/api/v1/things/latest", {})
    assert _find(router, "GET", "/api/v1/things/abc") == ("/api/v1/things/{id}", {"id": "abc"})
    assert _find(router, "GET", "/api/v1/things/abc/parts/unit/log") == (
        "/api/v1/things/{id}/parts/{name}/log",
        {"id": "abc", "name": "unit"},
    )
    assert _find(router, "DELETE", "/api/v1/things") == ("/api/v1/{proxy+}", {"proxy": "things"})
    assert _find(router, "POST", "/api/v1/things") == ("/api/v1/things", {})
    assert router.find("GET", "/other") is None
    assert router.find("GET", "/api/v1/things/") is not None  # the greedy route takes it
    assert Router([]).find("GET", "/api/v1/things") is None


def _find(router: Router, method: str, path: str) -> tuple[str, dict[str, str]] | None:
    found = router.find(method, path)
    return None if found is None else (found[0].path, found[1])


def test_response_mapping() -> None:
    plain = map_response({"a": 1})
    assert (plain.status, json.loads(plain.body)) == (200, {"a": 1})
    full = map_response(
        {
            "statusCode": 404,
            "headers": {"content-type": "application/json"},
            "multiValueHeaders": {"x-two": ["1", "2"]},
            "cookies": ["s=1"],
            "body": '{"error": "nope"}',
        }
    )
    assert full.status == 404
    assert ("x-two", "1") in full.headers
    assert ("x-two", "2") in full.headers
    assert ("set-cookie", "s=1") in full.headers
    assert json.loads(full.body) == {"error": "nope"}
    binary = map_response(
        {"statusCode": 200, "body": base64.b64encode(b"\x00\xff").decode(), "isBase64Encoded": True}
    )
    assert binary.body == b"\x00\xff"
    assert map_response({"statusCode": "bad"}).status == 502


@pytest.fixture
def gateway(template: Template, fake_app: Any) -> Iterator[Gateway]:
    spec = template.functions["WorkFunction"]
    runtime = FunctionRuntime(spec, load_handler(spec))
    gw = Gateway([(r, runtime) for r in spec.routes] + [(HttpRoute("GET", "/api/v1/boom", "B"), runtime)])
    gw.start()
    yield gw
    gw.stop()


def _call(
    url: str, method: str = "GET", body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status, {k.lower(): v for k, v in response.headers.items()}, response.read()
    except urllib.error.HTTPError as err:
        return err.code, {k.lower(): v for k, v in err.headers.items()}, err.read()


def test_gateway_invokes_the_function_over_http(gateway: Gateway, fake_app: Any) -> None:
    status, headers, body = _call(
        f"{gateway.url}/api/v1/things/t-1?verbose=1", headers={"X-Trace-Id": "abc", "User-Agent": "tests"}
    )
    assert status == 200
    assert headers["x-route"] == "GET /api/v1/things/{id}"
    answer = json.loads(body)
    event = answer["event"]
    assert event["pathParameters"] == {"id": "t-1"}
    assert event["queryStringParameters"] == {"verbose": "1"}
    assert event["headers"]["x-trace-id"] == "abc"
    assert event["requestContext"]["http"]["userAgent"] == "tests"
    # The fake context honours the function's Timeout (30 s).
    assert 0 < answer["remainingMs"] <= 30_000

    status, _, body = _call(
        f"{gateway.url}/api/v1/things", "POST", b'{"name": "x"}', {"content-type": "application/json"}
    )
    assert status == 201
    assert json.loads(json.loads(body)["event"]["body"]) == {"name": "x"}


def test_gateway_answers_like_api_gateway_on_misses_and_crashes(gateway: Gateway, fake_app: Any) -> None:
    status, _, body = _call(f"{gateway.url}/api/v1/nothing")
    assert (status, json.loads(body)) == (404, {"message": "Not Found"})
    status, _, _ = _call(f"{gateway.url}/api/v1/things", "DELETE")
    assert status == 404
    status, _, body = _call(f"{gateway.url}/api/v1/boom")
    assert (status, json.loads(body)) == (500, {"message": "Internal Server Error"})


@pytest.mark.parametrize("method", ["TRACE", "CONNECT", "PURGE"])
def test_unrouted_methods_get_api_gateways_404(gateway: Gateway, method: str) -> None:
    status, _, body = _call(f"{gateway.url}/api/v1/things", method)
    assert (status, json.loads(body)) == (404, {"message": "Not Found"})


def _pages(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    """A WSGI app standing in for a dashboard: `/` is a page, anything else its own 404."""
    if environ["PATH_INFO"] == "/":
        start_response("200 OK", [("content-type", "text/html"), ("x-seen-query", environ["QUERY_STRING"])])
        return [b"<h1>dashboard</h1>"]
    start_response("404 NOT FOUND", [("content-type", "text/plain")])
    return [b"no such page"]


def test_a_mounted_wsgi_app_serves_what_no_api_route_takes(template: Template, fake_app: Any) -> None:
    spec = template.functions["WorkFunction"]
    runtime = FunctionRuntime(spec, load_handler(spec))
    gw = Gateway([(r, runtime) for r in spec.routes], mount=_pages)
    gw.start()
    try:
        status, headers, body = _call(f"{gw.url}/?tab=runs")
        assert (status, headers["content-type"], body) == (200, "text/html", b"<h1>dashboard</h1>")
        assert headers["x-seen-query"] == "tab=runs"
        status, headers, _ = _call(f"{gw.url}/api/v1/things/t-1")
        assert (status, headers["x-route"]) == (200, "GET /api/v1/things/{id}")
        status, _, body = _call(f"{gw.url}/api/v1/nothing")
        assert (status, json.loads(body)) == (404, {"message": "Not Found"})
    finally:
        gw.stop()
