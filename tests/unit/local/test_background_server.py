"""The one lifecycle of the stack's servers: a free port, served from a thread, stopped for good."""

from __future__ import annotations

import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from testgenie_local.background_server import BackgroundServer
from testgenie_local.gateway import Gateway
from testgenie_local.lambda_endpoint import LambdaEndpoint
from testgenie_local.ui.server import UiServer


class _Hello(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "5")
        self.end_headers()
        self.wfile.write(b"hello")

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_a_server_answers_on_its_own_port_until_it_is_stopped() -> None:
    server = BackgroundServer(ThreadingHTTPServer(("127.0.0.1", 0), _Hello))
    server.start()
    try:
        assert server.port > 0
        with urllib.request.urlopen(server.url, timeout=10) as answer:  # noqa: S310 - a local URL
            assert answer.read() == b"hello"
    finally:
        server.stop()
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(server.url, timeout=10)  # noqa: S310


def test_the_three_servers_share_it() -> None:
    assert issubclass(Gateway, BackgroundServer)
    assert issubclass(LambdaEndpoint, BackgroundServer)
    assert issubclass(UiServer, BackgroundServer)
