"""`testgenie ui` against a SigV4-verifying stub: it signs what it forwards and refuses foreign hosts."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import expect
from testgenie_local.polling import wait_for

from tests.browser.sigv4_stub import ACCESS_KEY, REGION, SECRET_KEY, SigV4Stub, signature_problem, start_stub
from tests.support.browser import Watched

pytestmark = [pytest.mark.e2e]


@dataclass
class Proxy:
    port: int
    process: subprocess.Popen[bytes]
    stub: SigV4Stub

    def call(self, method: str, path: str, body: bytes | None = None, **headers: str) -> tuple[int, bytes]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        headers.setdefault("Host", f"127.0.0.1:{self.port}")
        connection.request(
            method, path, body=body, headers={k.replace("_", "-"): v for k, v in headers.items()}
        )
        answer = connection.getresponse()
        data = answer.read()
        connection.close()
        return answer.status, data


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    stub = start_stub()
    ready = tmp_path_factory.mktemp("ui") / "ready.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ACCESS_KEY_ID=ACCESS_KEY, AWS_SECRET_ACCESS_KEY=SECRET_KEY, AWS_DEFAULT_REGION=REGION)
    command = [
        sys.executable,
        "-m",
        "testgenie_local.cli",
        "ui",
        "--api-url",
        stub.url,
        "--sign",
        "--port",
        "0",
    ]
    process = subprocess.Popen([*command, "--ready-file", str(ready)], env=env, stderr=subprocess.PIPE)

    def up() -> bool:
        assert process.poll() is None, process.stderr.read() if process.stderr else b""
        return ready.is_file() and ready.stat().st_size > 0

    wait_for(up, 60, "`testgenie ui` to serve")
    url = json.loads(ready.read_text())["url"]
    yield Proxy(int(url.rsplit(":", 1)[1]), process, stub)
    process.terminate()
    process.wait(timeout=30)
    stub.stop()


def test_forwarded_requests_are_signed_for_execute_api(proxy: Proxy) -> None:
    status, body = proxy.call("GET", "/api/v1/executions?scenario=hello%20world&outcome=failed,passed")
    assert status == 200, body
    seen = proxy.stub.seen[-1]
    assert seen.problem is None
    assert seen.path == "/api/v1/executions?scenario=hello%20world&outcome=failed,passed"
    assert json.loads(body)["verified"] is True

    plan = json.dumps({"scenarioName": "hello-python", "preset": "quick"}).encode()
    status, body = proxy.call(
        "POST", "/api/v1/suite-requests", plan, content_type="application/json", Idempotency_Key="k-1"
    )
    assert status == 200, body
    seen = proxy.stub.seen[-1]
    assert seen.problem is None, seen.problem
    assert json.loads(body)["echo"] == {"scenarioName": "hello-python", "preset": "quick"}
    assert seen.headers["idempotency-key"] == "k-1"
    assert "cookie" not in seen.headers  # only the API's own headers travel


def test_the_stub_does_reject_bad_signatures(proxy: Proxy) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", proxy.stub.server.server_address[1], timeout=30)
    connection.request("GET", "/api/v1/health")
    assert connection.getresponse().status == 403  # unsigned
    connection.close()
    proxy.call("GET", "/api/v1/health")
    good = proxy.stub.seen[-1]
    assert good.problem is None
    assert (
        signature_problem("GET", "/api/v1/health?x=1", good.headers, good.body) == "signature does not match"
    )
    assert signature_problem("DELETE", good.path, good.headers, good.body) == "signature does not match"


def test_foreign_hosts_and_cross_origin_requests_are_refused(proxy: Proxy) -> None:
    before = len(proxy.stub.seen)
    for path in ("/api/v1/health", "/"):
        status, body = proxy.call("GET", path, Host=f"evil.example:{proxy.port}")
        assert status == 403, (path, body)
        assert "evil.example" in json.loads(body)["error"]
    assert proxy.call("GET", "/api/v1/health", Host="127.0.0.1:1")[0] == 403  # another port
    status, body = proxy.call("POST", "/api/v1/suite-requests", b"{}", Origin="http://evil.example")
    assert status == 403, body
    status, body = proxy.call("GET", "/api/v1/health", Sec_Fetch_Site="cross-site")
    assert status == 403, body
    assert len(proxy.stub.seen) == before  # nothing refused reached the API
    assert proxy.call("GET", "/api/v1/health", Host=f"localhost:{proxy.port}")[0] == 200


def test_pages_work_through_the_proxy(
    proxy: Proxy, open_page: Callable[..., Watched], tmp_path: Path
) -> None:
    watched = open_page()
    before = len(proxy.stub.seen)
    watched.page.goto(f"http://127.0.0.1:{proxy.port}/#/queue")
    expect(watched.page.locator(".empty")).to_contain_text("Nothing queued yet")
    expect(watched.page.locator("#health")).to_contain_text("API healthy")
    watched.clean()
    fetched = proxy.stub.seen[before:]
    assert fetched, "the page made no API request"
    assert all(seen.problem is None for seen in fetched), [s.problem for s in fetched]
