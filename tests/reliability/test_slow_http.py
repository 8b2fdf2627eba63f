"""A server that answers one byte at a time: HTTP phases still end at their deadline, as `timeout`.

A socket timeout bounds each read, so a server that drips its answer never trips it; the phase must
be bounded by the time left, whatever the server does (docs/scenarios.md).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from uuid import uuid4

import pytest
from testgenie.artifacts import LocalArtifactStore
from testgenie.orchestrator.models import Classification, Outcome, PhaseStatus, SuitePlan
from testgenie.orchestrator.phases.http import Unreachable, http_request
from testgenie.orchestrator.sources.local import LocalScenarioSource

from tests.support.drills import make_scenario
from tests.support.orchestrator import in_process_engine

# A complete, valid answer of DRIP_BYTES body bytes, sent one byte every DRIP_INTERVAL seconds:
# about 6 s in all, three times the phase's 2 s timeout.
DRIP_BYTES = 60
DRIP_INTERVAL = 0.1


class DripServer:
    """Accepts connections and sends each one a slow but well-formed 200 answer."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._drip, args=(conn,), daemon=True).start()

    def _drip(self, conn: socket.socket) -> None:
        answer = (
            f"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {DRIP_BYTES}\r\n"
            "Connection: close\r\n\r\n"
        ).encode() + b"x" * DRIP_BYTES
        with conn:
            try:
                conn.recv(65536)
                for offset in range(len(answer)):
                    if self._stop.is_set():
                        return
                    conn.sendall(answer[offset : offset + 1])
                    time.sleep(DRIP_INTERVAL)  # the server under test is slow by design
            except OSError:
                return  # the client gave up: what the fix makes it do

    def close(self) -> None:
        self._stop.set()
        self._listener.close()


@pytest.fixture
def drip_server() -> Iterator[str]:
    server = DripServer()
    yield f"http://127.0.0.1:{server.port}"
    server.close()


def test_a_dripping_answer_is_cut_at_the_request_deadline(drip_server: str) -> None:
    """The timeout is for the whole request: the answer is refused, though every read got a byte."""
    with pytest.raises(Unreachable, match="deadline passed"):
        http_request("GET", f"{drip_server}/slow", timeout=1.0)


@pytest.mark.parametrize("phase", ["smoke", "integration"])
def test_a_phase_against_a_dripping_server_ends_timeout(drip_server: str, tmp_path: Path, phase: str) -> None:
    scenarios = tmp_path / "scenarios"
    testing_phases = {phase: {"timeout": 2, "checks": [{"url": f"{drip_server}/health"}]}}
    make_scenario(scenarios, "rel-drip", testing_phases)
    engine = in_process_engine(
        LocalScenarioSource(scenarios),
        LocalArtifactStore(tmp_path / "artifacts"),
        60,
        workspace_parent=tmp_path,
    )
    request = SuitePlan(scenario_name="rel-drip", phases=[phase])

    result = engine.execute(request, uuid4())

    (ran,) = result.phases
    assert ran.status is PhaseStatus.FAILED, ran
    assert ran.classification is Classification.TIMEOUT, ran
    assert result.outcome is Outcome.FAILED


def test_the_run_deadline_bounds_an_http_phase_with_a_longer_timeout(
    drip_server: str, tmp_path: Path
) -> None:
    """Phase timeout 30 s, run deadline 2 s away: the run ends `timeout` at the run's deadline."""
    scenarios = tmp_path / "scenarios"
    make_scenario(scenarios, "rel-drip", {"smoke": {"timeout": 30, "checks": [{"url": f"{drip_server}/"}]}})
    engine = in_process_engine(
        LocalScenarioSource(scenarios),
        LocalArtifactStore(tmp_path / "artifacts"),
        60,
        workspace_parent=tmp_path,
    )
    request = SuitePlan(scenario_name="rel-drip", phases=["smoke"])

    result = engine.execute(request, uuid4(), deadline=time.monotonic() + 2)

    assert result.outcome is Outcome.TIMEOUT, result
    assert result.phases[0].status is not PhaseStatus.PASSED, result.phases
