"""1 000 seeded random malformed HTTP requests over real HTTP -> every answer 4xx, the database unchanged.

Against `testgenie serve`: bad JSON, wrong types, bad UUIDs, unknown routes and methods, huge and odd
query values, oversized headers and bodies, bodies nested beyond the limit, lists beyond the caps,
unknown fields (each of those three must get its documented message), and well-formed requests that
must be refused (a 404 suite request, a terminal one). Every generated request is invalid by construction, so any 2xx or 5xx
is a bug; the tables' row counts and checksums are compared before and after.
"""

from __future__ import annotations

import http.client
import json
import random
import string
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import pytest
from testgenie.entrypoints.models import SuiteExecutionBody, SuiteRequestBody
from testgenie.models_base import wire_names

from tests.support.drills import copy_scenarios, fingerprint
from tests.support.stack import RunningStack

SEED = 20_240_606
COUNT = 1_000
PREFIX = "/api/v1"
# The fields of each body (tests/contract/test_request_bodies.py keeps openapi.json equal to them).
FIELDS = {
    "executions": set(wire_names(SuiteExecutionBody)),
    "suite-requests": set(wire_names(SuiteRequestBody)),
}


@dataclass(frozen=True)
class Probe:
    kind: str
    method: str
    path: str
    body: bytes | None = None
    headers: tuple[tuple[str, str], ...] = ()
    # The documented answer (status, start of the message) when the kind has exactly one.
    expected: tuple[int, str] | None = None

    def describe(self) -> str:
        body = (self.body or b"")[:120]
        return f"[{self.kind}] {self.method} {self.path[:160]} body={body!r}"


class Generator:
    """Malformed requests, each invalid by construction (never one the API could accept)."""

    def __init__(self, rng: random.Random, known: dict[str, str]) -> None:
        self.rng = rng
        self.known = known  # a terminal suite request id and its scenario, an execution id

    # -- values -------------------------------------------------------------------------------

    def junk(self, low: int = 1, high: int = 40) -> str:
        alphabet = string.printable + "äéΩ漢字\u200b\U0001f600"
        return "".join(self.rng.choice(alphabet) for _ in range(self.rng.randint(low, high)))

    def bad_uuid(self) -> str:
        good = str(uuid.uuid4())
        return self.rng.choice(
            [
                good[:-1],
                good + "0",
                good.replace("-", "_"),
                good[:8] + "-zzzz" + good[13:],
                "0" * 37,
                "../../etc/passwd",
                "null",
                "-1",
                "1e9",
                "%00",
                self.junk(1, 20).replace("/", "x").replace("?", "x").replace("#", "x"),
            ]
        )

    def not_a_string(self) -> Any:
        return self.rng.choice([7, -1.5, True, [], ["a"], {"a": 1}, 10**30])

    def not_a_bool(self) -> Any:
        return self.rng.choice(["maybe", "yes please", [], {}, [True], 2.5, "2"])

    def not_a_list(self) -> Any:
        return self.rng.choice(["lint", 3, {"lint": True}, True, 1.5])

    def list_of_non_strings(self) -> Any:
        return self.rng.choice([[1, 2], [None], [{"a": 1}], [["lint"]], [True]])

    # -- requests ----------------------------------------------------------------------------

    def probe(self) -> Probe:
        maker = self.rng.choice(
            [
                self.bad_json,
                self.not_an_object,
                self.wrong_types,
                self.suite_request_semantics,
                self.bad_uuid_path,
                self.unknown_route,
                self.wrong_method,
                self.odd_query,
                self.oversized,
                self.refused_but_well_formed,
                self.deep_nesting,
                self.oversized_list,
                self.unknown_field,
            ]
        )
        return maker()

    def post_path(self) -> str:
        return PREFIX + self.rng.choice(["/executions", "/suite-requests"])

    def json_probe(self, kind: str, path: str, body: Any) -> Probe:
        return Probe(kind, "POST", path, json.dumps(body).encode(), (("content-type", "application/json"),))

    def bad_json(self) -> Probe:
        valid = json.dumps({"scenarioName": "rel-pass", "preset": "quick"})
        body = self.rng.choice(
            [
                "",
                "{",
                valid[: self.rng.randint(1, len(valid) - 1)],
                valid + "}",
                "{'scenarioName': 'rel-pass'}",
                '{"scenarioName": "rel-pass",}',
                "NaN",
                "\x00\x01\x02",
                self.junk(1, 200).replace("{", "").replace("[", "").replace('"', ""),
            ]
        )
        if body.strip() and body.strip()[0] in "-0123456789tfn":
            body = "{" + body  # a bare JSON scalar would parse; keep it broken
        content_type = self.rng.choice(
            ["application/json", "text/plain", "application/x-www-form-urlencoded"]
        )
        return Probe(
            "bad-json",
            "POST",
            self.post_path(),
            body.encode("utf-8", "surrogatepass"),
            (("content-type", content_type),),
        )

    def not_an_object(self) -> Probe:
        body = self.rng.choice([[], [{"scenarioName": "rel-pass"}], 42, "rel-pass", None, True, 1.5])
        return self.json_probe("not-an-object", self.post_path(), body)

    def wrong_types(self) -> Probe:
        body: dict[str, Any] = {"scenarioName": "rel-pass"}
        field, value = self.rng.choice(
            [
                ("scenarioName", self.not_a_string()),
                ("scenarioName", self.rng.choice(["", "   ", "\t"])),
                ("preset", self.not_a_string()),
                ("failFast", self.not_a_bool()),
                ("phases", self.not_a_list()),
                ("phases", self.list_of_non_strings()),
                ("skip", self.not_a_list()),
                ("skip", self.list_of_non_strings()),
            ]
        )
        body[field] = value
        if self.rng.random() < 0.5:
            body["unexpected"] = self.junk(1, 10)
        return self.json_probe(f"wrong-type:{field}", self.post_path(), body)

    def suite_request_semantics(self) -> Probe:
        body: dict[str, Any] = {"scenarioName": "rel-pass"}
        field, value = self.rng.choice(
            [
                # (the seed's defaults make "" a normal priority, 0 the default coverage, and
                # accept one type as a string: none of those is malformed)
                ("priority", self.rng.choice(["urgent!", "HIGHEST", "lowest", 5, None, []])),
                ("coverageTarget", self.rng.choice([-5, 101, 10**12, "ninety", [], 50.5])),
                ("requestedTypes", self.rng.choice([["zzz"], "zzz", ["unit", "nope"], [1], [None], [{}], 5])),
                ("notes", self.not_a_string()),
            ]
        )
        body[field] = value
        return self.json_probe(f"suite-request:{field}", PREFIX + "/suite-requests", body)

    def bad_uuid_path(self) -> Probe:
        bad = quote(self.bad_uuid(), safe="")
        method, path = self.rng.choice(
            [
                ("GET", f"/executions/{bad}"),
                ("GET", f"/executions/{bad}/phases/lint/log"),
                ("GET", f"/suite-requests/{bad}"),
                ("POST", f"/suite-requests/{bad}/cancel"),
            ]
        )
        if bad.lower() == "latest":
            bad = "latest0"
        return Probe("bad-uuid", method, PREFIX + path)

    def unknown_route(self) -> Probe:
        segment = quote(self.junk(1, 30), safe="")
        path = self.rng.choice(
            [
                f"{PREFIX}/{segment}",
                f"{PREFIX}/executions/{uuid.uuid4()}/{segment}",
                f"{PREFIX}/suite-requests/{uuid.uuid4()}/{segment}",
                f"/api/v2/executions/{segment}",
                f"/{segment}",
                f"{PREFIX}/executions/{uuid.uuid4()}/phases",
                f"{PREFIX}//executions",
                f"{PREFIX}/health/{segment}",
            ]
        )
        return Probe("unknown-route", self.rng.choice(["GET", "POST"]), path)

    def wrong_method(self) -> Probe:
        method = self.rng.choice(["PUT", "DELETE", "PATCH"])
        path = self.rng.choice(
            [
                "/executions",
                "/suite-requests",
                f"/suite-requests/{uuid.uuid4()}",
                f"/executions/{uuid.uuid4()}",
                "/phases",
                "/health",
            ]
        )
        if self.rng.random() < 0.3:  # a GET-only route asked to POST, a POST-only one to GET
            method, path = self.rng.choice(
                [
                    ("POST", "/phases"),
                    ("POST", "/health"),
                    ("POST", "/executions/latest"),
                    ("GET", f"/suite-requests/{uuid.uuid4()}/cancel"),
                ]
            )
        return Probe("wrong-method", method, PREFIX + path, b"{}" if method != "GET" else None)

    def odd_query(self) -> Probe:
        path, bad = self.rng.choice(
            [
                (
                    "/executions",
                    ("limit", self.odd_int(1, None)),
                ),  # above 50 is clamped (docs/api.md), not malformed
                ("/executions", ("offset", self.odd_int(0, None))),
                ("/executions", ("scenario", self.bad_scenario())),
                ("/executions/latest", ("scenario", self.bad_scenario())),
                ("/suite-requests", ("limit", self.odd_int(1, None))),
                (
                    "/suite-requests",
                    ("status", self.rng.choice(["bogus", "QUEUED ", "done", "1", self.junk(1, 30)])),
                ),
            ]
        )
        params = [bad]
        if self.rng.random() < 0.5 and path == "/executions":
            params.append(("limit", str(self.rng.randint(1, 50))))  # a valid one beside it changes nothing
        self.rng.shuffle(params)
        return Probe(f"odd-query:{bad[0]}", "GET", f"{PREFIX}{path}?{urlencode(params)}")

    def odd_int(self, low: int, high: int | None) -> str:
        choices = ["abc", "1.5", "1e3", "0x10", " ", "--1", "NaN", "∞", str(low - self.rng.randint(1, 10**6))]
        if high is not None:
            choices += [str(high + self.rng.randint(1, 10**6)), "9" * self.rng.randint(20, 400)]
        return self.rng.choice(choices)

    def bad_scenario(self) -> str:
        bad_char: str = self.rng.choice([*" ./\\;'\"<>%$!*&|`\x00\t\n", "é", "漢"])
        base = "".join(self.rng.choice(string.ascii_letters) for _ in range(self.rng.randint(0, 20)))
        if self.rng.random() < 0.2:
            return "a" * self.rng.randint(201, 5000)
        cut = self.rng.randint(0, len(base))
        if bad_char.isspace():  # a name is trimmed (docs/api.md): a blank is malformed only inside it
            base = (base or "a") + "z"
            cut = self.rng.randint(1, len(base) - 1)
        return base[:cut] + bad_char + base[cut:]

    def oversized(self) -> Probe:
        if self.rng.random() < 0.5:
            body = {"scenarioName": "rel-pass", "failFast": "x" * self.rng.randint(10_000, 2_000_000)}
            return self.json_probe("oversized-body", self.post_path(), body)
        body = {"scenarioName": "rel-pass"}  # valid body: the header alone must refuse it
        key = "k" * self.rng.randint(256, 2_000)
        return Probe(
            "oversized-idempotency-key",
            "POST",
            PREFIX + "/suite-requests",
            json.dumps(body).encode(),
            (("content-type", "application/json"), ("Idempotency-Key", key)),
        )

    def nested(self, depth: int) -> str:
        """JSON text nested `depth` levels (written out: json.dumps recurses once per level)."""
        opening = [self.rng.choice(["[", '{"' + self.rng.choice("abk") + '": ']) for _ in range(depth)]
        closing = ["]" if part == "[" else "}" for part in reversed(opening)]
        return "".join(opening) + json.dumps(self.rng.choice(["unit", 1, None])) + "".join(closing)

    def deep_nesting(self) -> Probe:
        """Nested beyond the 32 levels a body may have (docs/api.md), anywhere in the body."""
        depth = self.rng.choice([33, 34, 40, 100, 1_000, 5_000])
        field = self.rng.choice(["phases", "notes", "preset", "unexpected", "scenarioName"])
        body = '{"scenarioName": "rel-pass", "' + field + '": ' + self.nested(depth - 1) + "}"
        return Probe(
            "deep-nesting",
            "POST",
            self.post_path(),
            body.encode(),
            (("content-type", "application/json"),),
            (400, "request body is nested deeper than 32 levels"),
        )

    def oversized_list(self) -> Probe:
        """A list beyond the 50 items every list of a body may hold; otherwise a valid body."""
        path = self.post_path()
        fields = ["phases", "skip"] + (["requestedTypes"] if path.endswith("/suite-requests") else [])
        field = self.rng.choice(fields)
        count = self.rng.choice([51, 52, 100, 1_000, 20_000])
        body = {"scenarioName": "rel-pass", field: ["unit"] * count}
        return Probe(
            "oversized-list",
            "POST",
            path,
            json.dumps(body).encode(),
            (("content-type", "application/json"),),
            (400, f"{field}: List should have at most 50 items after validation, not {count}"),
        )

    def unknown_field(self) -> Probe:
        """A valid body plus a key no field has: a typo, a snake_case name, a field of another route."""
        path = self.post_path()
        key = self.rng.choice(
            ["phasess", "failfast", "scenario_name", "fail_fast", "Preset", "shards", self.junk(1, 12)]
            + (["priority", "notes", "coverageTarget"] if path.endswith("/executions") else [])
            + (["suiteRequestId"] if path.endswith("/suite-requests") else [])
        )
        if key in FIELDS[path.rsplit("/", 1)[-1]]:
            key += "_"  # a junk key that happens to be a field
        body = {"scenarioName": "rel-pass", key: self.rng.choice([True, 8, "x", ["unit"], None])}
        return Probe(
            "unknown-field",
            "POST",
            path,
            json.dumps(body).encode(),
            (("content-type", "application/json"),),
            (400, f"unknown field '{key[:100]}' ("),
        )

    def refused_but_well_formed(self) -> Probe:
        terminal, scenario = self.known["terminal_request"], self.known["scenario"]
        choice = self.rng.randrange(5)
        if choice == 0:  # run now, linked to a suite request that does not exist -> 404
            return self.json_probe(
                "missing-link",
                PREFIX + "/executions",
                {"scenarioName": scenario, "suiteRequestId": str(uuid.uuid4())},
            )
        if choice == 1:  # linked to a finished request -> 409, and it must stay as it is
            return self.json_probe(
                "terminal-link",
                PREFIX + "/executions",
                {"scenarioName": scenario, "suiteRequestId": terminal},
            )
        if choice == 2:  # cancel a finished request -> 409
            return Probe("cancel-terminal", "POST", f"{PREFIX}/suite-requests/{terminal}/cancel")
        if choice == 3:  # cancel, get or read a log of something that does not exist -> 404
            return Probe(
                "missing",
                self.rng.choice(["POST", "GET"]),
                self.rng.choice(
                    [
                        f"{PREFIX}/suite-requests/{uuid.uuid4()}/cancel",
                        f"{PREFIX}/executions/{uuid.uuid4()}",
                        f"{PREFIX}/executions/{self.known['execution']}/phases/{self.rng.choice(['nope', 'zz-top'])}/log",
                    ]
                ),
            )
        # a scenario name the service does not know / a plan it cannot build -> 400
        return self.json_probe(
            "bad-plan",
            PREFIX + "/executions",
            self.rng.choice(
                [
                    {"scenarioName": "no-such-scenario"},
                    {"scenarioName": scenario, "preset": "no-such-preset"},
                    {"scenarioName": scenario, "phases": ["no-such-phase"]},
                    {"scenarioName": scenario, "suiteRequestId": terminal.upper()[:-1]},
                ]
            ),
        )


def send(stack: RunningStack, probe: Probe) -> tuple[int, bytes]:
    target = urlsplit(stack.url)
    conn = http.client.HTTPConnection(target.hostname or "127.0.0.1", target.port, timeout=60)
    try:
        conn.putrequest(probe.method, probe.path, skip_accept_encoding=True)
        headers = dict(probe.headers)
        if probe.body is not None:
            headers["content-length"] = str(len(probe.body))
        for name, value in headers.items():
            conn.putheader(name, value)
        conn.endheaders(probe.body)
        answer = conn.getresponse()
        return answer.status, answer.read()
    finally:
        conn.close()


@pytest.mark.timeout(240)
def test_a_thousand_malformed_requests_get_4xx_and_change_nothing(
    new_database: Callable[[], str], serve: Callable[..., RunningStack], tmp_path: Path
) -> None:
    url = new_database()
    stack = serve(copy_scenarios(tmp_path / "scenarios", "rel-pass"), url)
    # Some history to protect: a finished suite request and its execution, and a synchronous run.
    finished = stack.queue(scenarioName="rel-pass")
    done = stack.wait_status(finished["id"], {"completed"}, timeout=120)
    synchronous = stack.call("POST", "/executions", {"scenarioName": "rel-pass"})
    assert synchronous.status == 200, synchronous.body[:500]
    before = fingerprint(url)
    # A run now is a durable execution tracked by a suite request of its own (trigger api).
    assert before["suite_requests"][0] == 2
    assert before["suite_executions"][0] == 2

    generator = Generator(
        random.Random(SEED),
        {"terminal_request": finished["id"], "scenario": "rel-pass", "execution": done["executionId"]},
    )
    answers: dict[str, list[int]] = {}
    wrong: list[str] = []
    for _ in range(COUNT):
        probe = generator.probe()
        status, body = send(stack, probe)
        answers.setdefault(probe.kind.split(":")[0], []).append(status)
        if not 400 <= status < 500:
            wrong.append(f"{status} {probe.describe()} -> {body[:200]!r}")
        elif probe.expected is not None:
            error = json.loads(body).get("error", "")
            if status != probe.expected[0] or not error.startswith(probe.expected[1]):
                wrong.append(f"{status} {error[:200]!r}, not {probe.expected}: {probe.describe()}")
    assert not wrong, (
        f"{len(wrong)} of {COUNT} malformed requests were not refused with the documented 4xx:\n"
        + "\n".join(wrong[:20])
    )
    # Every kind of malformed request was tried, and the stack is still healthy.
    kinds = {
        "bad-json", "not-an-object", "wrong-type", "suite-request", "bad-uuid", "unknown-route",
        "wrong-method", "odd-query", "oversized-body", "oversized-idempotency-key", "missing-link",
        "terminal-link", "cancel-terminal", "missing", "bad-plan", "deep-nesting", "oversized-list",
        "unknown-field",
    }  # fmt: skip
    assert set(answers) == kinds
    print({kind: sorted(set(statuses)) for kind, statuses in sorted(answers.items())})
    assert stack.call("GET", "/health").status == 200
    assert stack.process.poll() is None
    assert fingerprint(url) == before
