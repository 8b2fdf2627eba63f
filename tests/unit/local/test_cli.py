from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path
from typing import Any

import pytest
from testgenie_local.aws import LocalAws
from testgenie_local.bundle import BundleError, bundle, push_scenario
from testgenie_local.cli import build_parser, main
from testgenie_local.client import ApiClient, _error_message
from testgenie_local.commands.common import plan_body
from testgenie_local.console import ProgressView, print_result


def test_plan_arguments_become_the_request_body() -> None:
    args = build_parser().parse_args(
        [
            "execute",
            "hello-python",
            "--preset",
            "quick",
            "--phases",
            "unit, lint,",
            "--skip",
            "docs",
            "--fail-fast",
        ]
    )
    assert plan_body(args) == {
        "scenarioName": "hello-python",
        "preset": "quick",
        "phases": ["unit", "lint"],
        "skip": ["docs"],
        "failFast": True,
    }
    assert plan_body(build_parser().parse_args(["run", "x"])) == {"scenarioName": "x"}


def test_error_messages_come_from_the_api_body() -> None:
    assert _error_message(404, b'{"error": "suite request not found"}') == "404: suite request not found"
    assert _error_message(403, b'{"message": "Forbidden"}') == "403: Forbidden"
    assert _error_message(502, b"<html>bad gateway</html>") == "502: <html>bad gateway</html>"


def test_unreachable_api_is_one_line_and_exit_code_2(capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    assert main(["--api-url", f"http://127.0.0.1:{port}", "requests"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: cannot reach the Test Genie API")
    assert "Traceback" not in err
    assert main(["--api-url", "ftp://x", "history"]) == 2


def test_deployed_urls_are_signed_with_sigv4(monkeypatch: pytest.MonkeyPatch) -> None:
    client = ApiClient("https://abc123.execute-api.eu-west-1.amazonaws.com")
    assert client.sign is True
    assert ApiClient("http://127.0.0.1:3000").sign is False
    from testgenie_local.client import _sigv4_headers

    headers = _sigv4_headers("GET", client.url("/health"), None, {"accept": "application/json"}, client.host)
    assert headers["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=")
    assert "/eu-west-1/execute-api/aws4_request" in headers["Authorization"]
    assert "X-Amz-Date" in headers


def test_progress_view_renders_phases_and_the_current_one() -> None:
    stream = io.StringIO()
    view = ProgressView(stream)
    request: dict[str, Any] = {
        "scenarioName": "hello-python",
        "status": "running",
        "progress": {
            "totalPhases": 4,
            "completedPhases": 1,
            "currentPhase": "standards",
            "phases": [{"name": "structure", "status": "passed", "durationMs": 12}],
        },
    }
    view.update(request)
    view.update(request)  # unchanged: not printed again off a terminal
    lines = stream.getvalue().splitlines()
    assert lines[0].startswith("hello-python [")
    assert "1/4 phases · running" in lines[0]
    assert "structure" in lines[1]
    assert "12ms" in lines[1]
    assert "standards" in lines[2]
    assert len(lines) == 3


def _scenario(root: Path) -> Path:
    (root / ".testgenie").mkdir(parents=True)
    (root / ".testgenie" / "testing.json").write_text("{}")
    (root / "README.md").write_text("# s\n")
    (root / "node_modules").mkdir()
    (root / "node_modules" / "big.js").write_text("x")
    return root


def test_bundle_and_push_to_the_local_bucket(tmp_path: Path, moto_server: LocalAws) -> None:
    folder = _scenario(tmp_path / "scn")
    with tarfile.open(fileobj=io.BytesIO(bundle(folder)), mode="r:gz") as tar:
        names = sorted(tar.getnames())
    assert names == [".testgenie", ".testgenie/testing.json", "README.md"]
    with pytest.raises(BundleError, match=r"no \.testgenie/testing\.json"):
        bundle(tmp_path)

    moto_server.s3().create_bucket(Bucket="scenarios-local")
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "stack.json").write_text(
        json.dumps(
            {"aws_endpoint": moto_server.endpoint_url, "buckets": {"ArtifactsBucket": "scenarios-local"}}
        )
    )
    location = push_scenario(folder, "my-scn", None, "scenarios", data_dir)
    assert location == "s3://scenarios-local/scenarios/my-scn.tar.gz"
    stored = (
        moto_server.s3().get_object(Bucket="scenarios-local", Key="scenarios/my-scn.tar.gz")["Body"].read()
    )
    with tarfile.open(fileobj=io.BytesIO(stored), mode="r:gz") as tar:
        assert "README.md" in tar.getnames()
    with pytest.raises(BundleError, match="letters, digits"):
        push_scenario(folder, "bad name", None, "scenarios", data_dir)


def test_a_result_lists_long_errors_and_failing_tests_in_full_under_the_table() -> None:
    long_name = "tests/test_payments.py::TestRefunds::test_a_refund_larger_than_the_charge_is_refused_with_a_clear_message"
    result: dict[str, Any] = {
        "scenarioName": "shop",
        "executionId": "e-1",
        "success": False,
        "outcome": "failed",
        "phaseSummary": {"passed": 1, "failed": 1, "skipped": 0},
        "phases": [
            {"name": "lint", "status": "passed", "durationMs": 5},
            {
                "name": "unit",
                "status": "failed",
                "durationMs": 1500,
                "tests": {"passed": 3, "total": 4},
                "error": f"1 of 4 tests failed: {long_name}",
                "observations": [{"section": "tests", "text": f"failed: {long_name} — assert 1 == 2"}],
            },
        ],
    }
    stream = io.StringIO()
    print_result(result, stream)
    lines = stream.getvalue().splitlines()
    assert lines[0] == "FAILED  shop  execution e-1  (1 passed, 1 failed, 0 skipped)"
    table_row = next(line for line in lines if line.startswith("✘ unit"))
    assert table_row.endswith("…")
    assert f"unit: 1 of 4 tests failed: {long_name}" in lines
    assert f"  failed: {long_name} — assert 1 == 2" in lines


def test_the_headline_follows_the_outcome() -> None:
    stream = io.StringIO()
    print_result({"scenarioName": "s", "executionId": "e", "success": True, "outcome": "cancelled"}, stream)
    assert stream.getvalue().startswith("CANCELLED  s")
