"""The local gateway's defences, over real HTTP: foreign Host, cross-origin writes, non-JSON bodies,
and Content-Length values that cannot be honoured (docs/local.md, "What the gateway refuses")."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from testgenie_local.gateway import Gateway
from testgenie_local.runtime import FunctionRuntime, load_handler
from testgenie_local.template import Template

READ_TIMEOUT = 0.5


@pytest.fixture
def gateway(template: Template, fake_app: Any) -> Iterator[Gateway]:
    spec = template.functions["WorkFunction"]
    runtime = FunctionRuntime(spec, load_handler(spec))
    gw = Gateway([(r, runtime) for r in spec.routes], read_timeout=READ_TIMEOUT)
    gw.start()
    yield gw
    gw.stop()


def _raw(gw: Gateway, head: str, body: bytes = b"") -> tuple[int, dict[str, Any], bytes]:
    """Send bytes as written (no client fixes them up); read until the server closes or answers."""
    with socket.create_connection(("127.0.0.1", gw.port), timeout=10) as conn:
        conn.sendall(head.replace("\n", "\r\n").encode() + b"\r\n" + body)
        data = b""
        while b"\r\n\r\n" not in data or len(data.split(b"\r\n\r\n", 1)[1]) < _length(data):
            chunk = conn.recv(65536)
            if not chunk:
                break
            data += chunk
    head_bytes, _, rest = data.partition(b"\r\n\r\n")
    status = int(head_bytes.split(b" ", 2)[1])
    return status, json.loads(rest) if rest else {}, head_bytes


def _length(data: bytes) -> int:
    for line in data.split(b"\r\n\r\n", 1)[0].split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return int(line.split(b":", 1)[1])
    return 0


def _request(gw: Gateway, method: str, path: str, *headers: str, body: bytes = b"", host: str = "") -> str:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host or f'127.0.0.1:{gw.port}'}", *headers]
    return "\n".join(lines) + "\n"


def test_only_loopback_host_headers_with_this_port_are_served(gateway: Gateway, fake_app: Any) -> None:
    for host in (f"127.0.0.1:{gateway.port}", f"localhost:{gateway.port}", f"[::1]:{gateway.port}"):
        status, _, _ = _raw(gateway, _request(gateway, "GET", "/api/v1/things/a", host=host))
        assert status == 200, host
    for host in (f"evil.example:{gateway.port}", "localhost", f"127.0.0.1:{gateway.port + 1}", "10.0.0.5"):
        status, body, _ = _raw(gateway, _request(gateway, "GET", "/api/v1/things/a", host=host))
        assert status == 403, host
        assert "is not this gateway" in body["message"]
    no_host = _raw(gateway, "GET /api/v1/things/a HTTP/1.1\nConnection: close\n")
    assert no_host[0] == 403
    assert len(fake_app.CALLS) == 3  # only the three good ones reached the function


def test_cross_origin_writes_are_refused_and_same_origin_ones_served(gateway: Gateway, fake_app: Any) -> None:
    body = b'{"name": "x"}'
    json_headers = ("Content-Type: application/json", f"Content-Length: {len(body)}")
    for origin in ("http://evil.example", "null", f"https://127.0.0.1:{gateway.port}"):
        head = _request(gateway, "POST", "/api/v1/things", *json_headers, f"Origin: {origin}")
        status, answer, _ = _raw(gateway, head, body)
        assert (status, answer["message"]) == (403, f"Forbidden: cross-origin POST from {origin}")
    cross_site = _request(gateway, "POST", "/api/v1/things", *json_headers, "Sec-Fetch-Site: cross-site")
    assert _raw(gateway, cross_site, body)[0] == 403
    assert fake_app.CALLS == []
    same = _request(
        gateway, "POST", "/api/v1/things", *json_headers, f"Origin: http://localhost:{gateway.port}"
    )
    assert _raw(gateway, same, body)[0] == 201
    # Reading is not a state change: a cross-origin GET is answered (the browser keeps it from the page).
    read = _request(gateway, "GET", "/api/v1/things/a", "Origin: http://evil.example")
    assert _raw(gateway, read)[0] == 200


@pytest.mark.parametrize(
    "media", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", None]
)
def test_a_post_body_must_be_json(gateway: Gateway, fake_app: Any, media: str | None) -> None:
    body = b'{"name": "x"}'
    headers = [f"Content-Length: {len(body)}"] + ([f"Content-Type: {media}"] if media else [])
    status, answer, _ = _raw(gateway, _request(gateway, "POST", "/api/v1/things", *headers), body)
    assert status == 415
    assert answer["message"].startswith("Unsupported Media Type: a request body must be application/json")
    assert fake_app.CALLS == []
    for ok in ("application/json; charset=utf-8", "application/merge-patch+json"):
        head = _request(
            gateway, "POST", "/api/v1/things", f"Content-Type: {ok}", f"Content-Length: {len(body)}"
        )
        assert _raw(gateway, head, body)[0] == 201, ok


@pytest.mark.parametrize(
    ("length", "message"),
    [
        ("abc", "Bad Request: Content-Length must be a non-negative integer, not 'abc'"),
        ("-1", "Bad Request: Content-Length must be a non-negative integer, not '-1'"),
        ("1e3", "Bad Request: Content-Length must be a non-negative integer, not '1e3'"),
    ],
)
def test_an_unusable_content_length_is_a_400_not_a_dropped_connection(
    gateway: Gateway, fake_app: Any, length: str, message: str, capfd: pytest.CaptureFixture[str]
) -> None:
    head = _request(
        gateway, "POST", "/api/v1/things", "Content-Type: application/json", f"Content-Length: {length}"
    )
    status, answer, raw_head = _raw(gateway, head, b"{}")
    assert (status, answer["message"]) == (400, message)
    assert b"connection: close" in raw_head.lower()
    assert fake_app.CALLS == []
    assert "Traceback" not in capfd.readouterr().err


def test_a_body_shorter_than_its_length_is_a_400_after_the_read_timeout(
    gateway: Gateway, fake_app: Any, capfd: pytest.CaptureFixture[str]
) -> None:
    head = _request(
        gateway, "POST", "/api/v1/things", "Content-Type: application/json", "Content-Length: 100"
    )
    status, answer, _ = _raw(gateway, head, b'{"name": ')  # then nothing more
    assert (status, answer["message"]) == (
        400,
        "Bad Request: the body ended before its Content-Length (100 bytes)",
    )
    assert fake_app.CALLS == []
    conflicting = _request(
        gateway,
        "POST",
        "/api/v1/things",
        "Content-Type: application/json",
        "Content-Length: 2",
        "Content-Length: 3",
    )
    assert _raw(gateway, conflicting, b"{}")[:2] == (
        400,
        {"message": "Bad Request: conflicting Content-Length headers"},
    )
    chunked = _request(
        gateway, "POST", "/api/v1/things", "Content-Type: application/json", "Transfer-Encoding: chunked"
    )
    assert _raw(gateway, chunked, b"2\r\n{}\r\n0\r\n\r\n")[0] == 411
    assert "Traceback" not in capfd.readouterr().err


def test_a_silent_client_is_let_go_after_the_read_timeout(gateway: Gateway) -> None:
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=10) as idle:
        idle.sendall(b"GET /api/v1/things/a HTT")  # half a request line, then silence
        assert idle.recv(1024) == b""  # the server closed it (recv would block past 10 s otherwise)
    status, _, _ = _raw(gateway, _request(gateway, "GET", "/api/v1/things/a", "Connection: close"))
    assert status == 200
