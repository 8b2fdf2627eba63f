"""A log or a table cannot drive the terminal: control characters are shown, not sent (unless --raw)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from testgenie_local.cli import main

# Retitles the terminal (OSC 0), moves the cursor up and erases the line, then rings the bell.
HOSTILE = "ok\x1b]0;pwned\x07\n\x1b[1A\x1b[2Kall 5 passed\r\x08\n"


class _Api(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path.endswith("/log"):
            body, kind = HOSTILE.encode(), "text/plain; charset=utf-8"
        else:
            body = (
                b'{"items": [{"executionId": "e1", "scenarioName": "evil\\u001b[2J", "outcome": "passed",'
                b' "success": true}], "nextCursor": null}'
            )
            kind = "application/json"
        self.send_response(200)
        self.send_header("content-type", kind)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: object) -> None:
        return


@pytest.fixture
def api_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Api)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_log_is_printed_with_its_control_characters_escaped(
    api_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--api-url", api_url, "log", "e1", "unit"]) == 0
    printed = capsys.readouterr().out
    assert "\x1b" not in printed
    assert "\x07" not in printed
    assert "\r" not in printed
    assert printed == "ok\\x1b]0;pwned\\x07\n\\x1b[1A\\x1b[2Kall 5 passed\\x0d\\x08\n"


def test_raw_prints_the_log_byte_for_byte(api_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--api-url", api_url, "log", "e1", "unit", "--raw"]) == 0
    assert capsys.readouterr().out == HOSTILE


def test_a_table_cell_cannot_clear_the_screen(api_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--api-url", api_url, "history"]) == 0
    printed = capsys.readouterr().out
    assert "\x1b" not in printed
    assert "evil\\x1b[2J" in printed
