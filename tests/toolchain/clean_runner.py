"""Run a scenario bundle phase by phase through the runner's own code, in whatever interpreter runs this.

Used by test_clean_venv.py with a clean Python 3.13 venv holding only the runner's declared
packages: `python clean_runner.py <bundle.tar.gz> <scenario> <preset>` prints one JSON line per
phase result. Logs are PUT to a throwaway local HTTP server, as the runner PUTs them to S3.
"""

from __future__ import annotations

import json
import sys
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from testgenie.artifacts import UploadTarget
from testgenie.orchestrator.models import SuitePlan
from testgenie.orchestrator.phases.containment import become_runner_process
from testgenie.orchestrator.planning.plan import build_plan, discover_phase_scripts
from testgenie.orchestrator.planning.testing_config import load_testing_config
from testgenie.orchestrator.run.workspace import fresh_workspace
from testgenie.orchestrator.sources.bundles import BundleRef, bundle_digest
from testgenie.runner.phase import run_invocation
from testgenie.runner.protocol import PhaseInvocation, PriorTest


class _Sink(BaseHTTPRequestHandler):
    def do_PUT(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


def main() -> int:
    archive, scenario, preset = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
    become_runner_process()
    sink = ThreadingHTTPServer(("127.0.0.1", 0), _Sink)
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    data = archive.read_bytes()
    bundle = BundleRef(url=archive.resolve().as_uri(), sha256=bundle_digest(data), size_bytes=len(data))
    execution_id = uuid.uuid4()
    with fresh_workspace(bundle, execution_id, scenario=scenario) as planning:
        config = load_testing_config(planning.scenario_dir)
        scripts = discover_phase_scripts(planning.scenario_dir)
    plan = build_plan(SuitePlan(scenario_name=scenario, preset=preset), config, scripts, 300)
    prior: list[PriorTest] = []
    for phase in plan.phases:
        invocation = PhaseInvocation(
            execution_id=execution_id,
            scenario_name=scenario,
            bundle=bundle,
            plan=plan,
            phase=phase,
            timeout_seconds=plan.timeouts.get(phase, 300),
            log_upload=UploadTarget(
                url=f"http://127.0.0.1:{sink.server_port}/{phase}.log", key=f"{phase}.log"
            ),
            prior_tests=prior,
        )
        answer = run_invocation(invocation)
        prior = [*prior, *answer.tests]
        print(json.dumps({"python": sys.version.split()[0], **answer.result.to_json_dict()}), flush=True)
    sink.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
