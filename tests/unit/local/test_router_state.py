"""Two warm environments of one function resolve at once in one process: each must see its own event.

Powertools keeps the current event on the BaseRouter class; the local stack runs environments as
threads, so testgenie_local.router_state makes that state per thread. The race is made deterministic:
environment A's route waits until environment B has resolved a request with other query parameters,
then reads its own. Each case runs in a fresh interpreter (the isolation is process-wide and final).
"""

from __future__ import annotations

import json
import subprocess
import sys

from tests.support.paths import REPO_ROOT

_RACE = """
import json, sys, threading
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from testgenie_local.router_state import isolate_per_thread
from tests.support.events import http_event
if sys.argv[1] == "isolated":
    isolate_per_thread()
a, b = APIGatewayHttpResolver(), APIGatewayHttpResolver()   # two environments' resolvers
a_inside, b_done = threading.Event(), threading.Event()
seen = {}

@a.get("/api/v1/echo")
def echo_a():
    a_inside.set()    # A's event is set; now B resolves another request
    b_done.wait(10)
    seen["a"] = a.current_event.get_query_string_value("scenario")
    return {"scenario": seen["a"]}

@b.get("/api/v1/echo")
def echo_b():
    return {"scenario": b.current_event.get_query_string_value("scenario")}

def run_b():
    a_inside.wait(10)
    seen["b"] = json.loads(b.resolve(http_event("GET", "/api/v1/echo", query={"scenario": "b"}), None)["body"])
    b_done.set()

thread = threading.Thread(target=run_b)
answer = {}
def run_a():
    answer.update(json.loads(a.resolve(http_event("GET", "/api/v1/echo", query={"scenario": "a"}), None)["body"]))
first = threading.Thread(target=run_a)
first.start(); thread.start(); first.join(); thread.join()
print(json.dumps({"a": answer["scenario"], "b": seen["b"]["scenario"]}))
"""


def _race(mode: str) -> dict[str, str]:
    done = subprocess.run(
        [sys.executable, "-c", _RACE, mode],
        cwd=REPO_ROOT,
        env={
            "PYTHONPATH": f"{REPO_ROOT}:{REPO_ROOT / 'local'}:{REPO_ROOT / 'layers/core'}",
            "PATH": "/usr/bin:/bin",
        },
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    answer: dict[str, str] = json.loads(done.stdout.strip().splitlines()[-1])
    return answer


def test_without_isolation_one_environment_reads_the_other_environments_event() -> None:
    # The hazard itself: this is what the local stack would serve without router_state.
    assert _race("shared") == {"a": "b", "b": "b"}


def test_isolated_environments_each_read_their_own_event() -> None:
    assert _race("isolated") == {"a": "a", "b": "b"}
