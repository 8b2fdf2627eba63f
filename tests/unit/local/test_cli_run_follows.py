"""`testgenie run` against an API that answers 202 (a durable run still going after 25 s): the CLI
follows the suite request with live progress, then prints the execution, as `execute --wait` does."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from testgenie_local.cli import main

REQUEST = "7a240b0d-6392-4755-bd34-1d30edb89325"
EXECUTION = "1e58b885-7812-54ce-9adf-f18d350d6152"


class _Api(BaseHTTPRequestHandler):
    polls: list[str] = []

    def _json(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length") or 0))
        assert self.path.endswith("/executions"), self.path
        follow = f"/api/v1/suite-requests/{REQUEST}"
        accepted = {
            "executionId": EXECUTION,
            "suiteRequestId": REQUEST,
            "status": "running",
            "follow": follow,
        }
        self._json(202, accepted)

    def do_GET(self) -> None:
        if self.path.endswith(f"/suite-requests/{REQUEST}"):
            self.polls.append(self.path)
            done = len(self.polls) >= 2  # running once, then completed
            progress: dict[str, object] = {
                "totalPhases": 1,
                "completedPhases": 1 if done else 0,
                "phases": [],
            }
            body: dict[str, object] = {
                "id": REQUEST,
                "scenarioName": "x",
                "status": "completed" if done else "running",
            }
            body.update({"progress": progress, "executionId": EXECUTION if done else None})
            self._json(200, body)
        elif self.path.endswith(f"/executions/{EXECUTION}"):
            phase = {"name": "structure", "status": "passed", "durationMs": 5, "durationSeconds": 1}
            result: dict[str, object] = {
                "executionId": EXECUTION,
                "suiteRequestId": REQUEST,
                "scenarioName": "x",
            }
            result.update({"success": True, "outcome": "passed", "phases": [phase]})
            result.update({"startedAt": "2026-12-06T08:00:00Z", "completedAt": "2026-12-06T08:00:30Z"})
            self._json(200, result)
        else:
            self._json(404, {"error": f"not here: {self.path}"})

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture
def api() -> Iterator[str]:
    _Api.polls = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Api)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_run_follows_a_202_until_the_request_ends(api: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["--api-url", api, "run", "x", "--json"])

    assert code == 0
    assert len(_Api.polls) >= 2  # it followed the request, not just the first answer
    printed = json.loads(capsys.readouterr().out)
    assert printed["executionId"] == EXECUTION
    assert printed["outcome"] == "passed"
