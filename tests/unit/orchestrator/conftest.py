"""Fixtures of the orchestrator tests: scenario folders on disk, a local HTTP service, process checks."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from testgenie.artifacts import LocalArtifactStore
from testgenie.orchestrator.run.engine import SuiteOrchestrator
from testgenie.orchestrator.sources.local import LocalScenarioSource

from tests.support.orchestrator import in_process_engine
from tests.support.paths import EXAMPLES

ScenarioFactory = Callable[..., Path]


@pytest.fixture
def scenarios_root(tmp_path: Path) -> Path:
    root = tmp_path / "scenarios"
    root.mkdir()
    return root


@pytest.fixture
def make_scenario(scenarios_root: Path) -> ScenarioFactory:
    """make_scenario("demo", testing={...}, files={"README.md": "..."}) -> the scenario folder."""

    def make(
        name: str = "demo", testing: dict[str, Any] | None = None, files: dict[str, str] | None = None
    ) -> Path:
        folder = scenarios_root / name
        folder.mkdir(parents=True, exist_ok=True)
        if testing is not None:
            (folder / ".testgenie").mkdir(exist_ok=True)
            (folder / ".testgenie" / "testing.json").write_text(json.dumps(testing))
        for relative, content in (files or {}).items():
            path = folder / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content)
            if relative.endswith(".sh"):
                path.chmod(0o755)
        return folder

    return make


@pytest.fixture
def artifacts(tmp_path: Path) -> LocalArtifactStore:
    return LocalArtifactStore(tmp_path / "artifacts")


@pytest.fixture
def workspaces(tmp_path: Path) -> Path:
    folder = tmp_path / "workspaces"
    folder.mkdir()
    return folder


@pytest.fixture
def orchestrator(scenarios_root: Path, artifacts: LocalArtifactStore, workspaces: Path) -> SuiteOrchestrator:
    return in_process_engine(LocalScenarioSource(scenarios_root), artifacts, 60, workspace_parent=workspaces)


@pytest.fixture
def examples_orchestrator(artifacts: LocalArtifactStore, workspaces: Path) -> SuiteOrchestrator:
    return in_process_engine(LocalScenarioSource(EXAMPLES), artifacts, 120, workspace_parent=workspaces)


class _Handler(BaseHTTPRequestHandler):
    items: dict[str, dict[str, Any]] = {}

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, body: bytes, content_type: str = "text/plain") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path == "/health":
            self._send(200, b"ok: healthy")
        elif self.path == "/slow":
            time.sleep(0.05)  # simulated latency, to exceed a 1 ms budget
            self._send(200, b"slow")
        elif self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "/health")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif self.path.startswith("/items/") and self.path[len("/items/") :] in self.items:
            self._send(200, json.dumps(self.items[self.path[len("/items/") :]]).encode(), "application/json")
        else:
            self._send(404, b"not found")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        payload = json.loads(self.rfile.read(length) or b"{}")
        if self.path == "/items":
            item = {"id": str(len(self.items) + 1), "name": payload.get("name")}
            self.items[item["id"]] = item
            self._send(201, json.dumps({"data": item}).encode(), "application/json")
        else:
            self._send(404, b"not found")


@pytest.fixture
def http_service() -> Iterator[str]:
    """A real HTTP service on 127.0.0.1: /health, /slow, /redirect, POST /items, GET /items/<id>."""
    _Handler.items = {}
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def clean_aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
