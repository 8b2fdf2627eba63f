"""The CLI's client retries "not done, try again" answers with a bounded backoff, against a real HTTP server."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from testgenie_local.client import DATABASE_BUSY, ApiClient, ApiError, RetryPolicy


@dataclass
class Script:
    """What the server answers, in order (then 200 {"ok": true}), and what it saw."""

    answers: list[tuple[int, dict[str, str], bytes]] = field(default_factory=list)
    seen: list[tuple[str, str, str | None]] = field(default_factory=list)  # method, path, Idempotency-Key
    lock: threading.Lock = field(default_factory=threading.Lock)


@pytest.fixture
def server() -> Iterator[tuple[str, Script]]:
    script = Script()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            with script.lock:
                script.seen.append((self.command, self.path, self.headers.get("Idempotency-Key")))
                status, headers, body = (
                    script.answers.pop(0) if script.answers else (200, {}, b'{"ok": true}')
                )
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _answer

        def log_message(self, format: str, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", script
    httpd.shutdown()
    httpd.server_close()


def _busy(
    message: str = DATABASE_BUSY, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    return 503, headers or {}, json.dumps({"error": message}).encode()


def _client(url: str, waits: list[float], attempts: int = 5) -> ApiClient:
    policy = RetryPolicy(
        attempts=attempts, base_delay=0.5, max_delay=8.0, sleep=waits.append, jitter=lambda cap: cap
    )
    return ApiClient(url, retry=policy)


def test_a_busy_answer_then_a_good_one_is_one_success(server: tuple[str, Script]) -> None:
    url, script = server
    script.answers = [_busy(), _busy()]
    waits: list[float] = []

    assert _client(url, waits).get("/health") == {"ok": True}
    assert [path for _, path, _ in script.seen] == ["/api/v1/health"] * 3
    assert waits == [0.5, 1.0]  # exponential: base, then twice that


def test_retries_are_bounded_and_the_last_answer_is_reported(server: tuple[str, Script]) -> None:
    url, script = server
    script.answers = [_busy()] * 10
    waits: list[float] = []

    with pytest.raises(ApiError) as caught:
        _client(url, waits, attempts=4).get("/health")
    assert caught.value.status == 503
    assert DATABASE_BUSY in caught.value.message
    assert len(script.seen) == 4
    assert waits == [0.5, 1.0, 2.0]


def test_the_delay_is_capped_and_retry_after_is_honoured(server: tuple[str, Script]) -> None:
    url, script = server
    script.answers = [
        _busy(headers={"Retry-After": "3"}),
        (429, {"Retry-After": "120"}, b'{"message": "Too Many Requests"}'),
    ]
    waits: list[float] = []

    assert _client(url, waits).get("/executions") == {"ok": True}
    assert waits == [3.0, 8.0]  # the server's word, but never beyond max_delay
    policy = RetryPolicy(base_delay=0.5, max_delay=8.0, jitter=lambda cap: cap)
    assert [policy.delay(n, ApiError(503, "x")) for n in range(1, 7)] == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0]


def test_a_post_is_retried_only_when_repeating_it_is_safe(server: tuple[str, Script]) -> None:
    url, script = server
    waits: list[float] = []
    api = _client(url, waits)

    # "database busy, retry": the service refused before doing anything.
    script.answers = [_busy()]
    assert api.post("/executions", {"scenarioName": "demo"}) == {"ok": True}
    # API Gateway's own 503 (a throttled function, not the service's {"error": …} body).
    script.answers = [(503, {}, b'{"message": "Service Unavailable"}')]
    assert api.post("/executions", {"scenarioName": "demo"}) == {"ok": True}
    # The service's generic 503 may follow a write: repeated only with an Idempotency-Key.
    script.answers = [_busy("service temporarily unavailable; retry later")]
    assert api.post("/suite-requests", {}, headers={"Idempotency-Key": "k-1"}) == {"ok": True}
    script.seen.clear()
    script.answers = [_busy("service temporarily unavailable; retry later")]
    with pytest.raises(ApiError, match="service temporarily unavailable"):
        api.post("/executions", {"scenarioName": "demo"})
    assert len(script.seen) == 1


def test_errors_that_a_retry_cannot_fix_are_not_retried(server: tuple[str, Script]) -> None:
    url, script = server
    script.answers = [(400, {}, b'{"error": "scenarioName: field required"}')]
    waits: list[float] = []

    with pytest.raises(ApiError, match="scenarioName"):
        _client(url, waits).post("/suite-requests", {}, headers={"Idempotency-Key": "k-2"})
    assert (len(script.seen), waits) == (1, [])


def test_the_stack_output_url_with_its_api_prefix_is_accepted(server: tuple[str, Script]) -> None:
    url, script = server
    api = ApiClient(f"{url}/api/v1/")
    assert api.get("/health") == {"ok": True}
    assert script.seen[-1][1] == "/api/v1/health"


def test_execute_always_sends_an_idempotency_key_so_its_retry_cannot_queue_twice(
    server: tuple[str, Script],
) -> None:
    from testgenie_local.cli import main

    url, script = server
    script.answers = [
        _busy("service temporarily unavailable; retry later"),
        (201, {}, b'{"id": "r-1", "status": "queued"}'),
    ]
    code = main(["--api-url", url, "execute", "demo"])
    assert code == 0
    (first_method, _, first_key), (_, _, second_key) = script.seen
    assert first_method == "POST"
    assert first_key is not None
    assert first_key == second_key


def test_the_client_keys_on_the_text_the_service_sends() -> None:
    from testgenie.entrypoints.http import DATABASE_BUSY as SERVED

    assert DATABASE_BUSY == SERVED
