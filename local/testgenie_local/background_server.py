"""The lifecycle the stack's three servers share (the gateway, the Lambda endpoint, the dashboard):
an HTTP server on 127.0.0.1 (port 0 picks a free one), served from a daemon thread or in the
foreground, shut down and joined."""

from __future__ import annotations

import threading
from typing import Any, Protocol


class _Serving(Protocol):
    """What http.server's and werkzeug's servers both offer."""

    @property
    def server_address(self) -> Any: ...

    def serve_forever(self, poll_interval: float = 0.5) -> None: ...
    def shutdown(self) -> None: ...
    def server_close(self) -> None: ...


class BackgroundServer:
    """start() serves in a daemon thread, stop() shuts down and joins; `url` is on 127.0.0.1."""

    _thread_name = "http"

    def __init__(self, server: _Serving) -> None:
        self._server = server
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        address = self._server.server_address
        assert isinstance(address, tuple)
        return int(address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._server.serve_forever, name=self._thread_name, daemon=True
        )
        self._thread.start()

    def serve_forever(self) -> None:
        """Serve in this thread until stop() is called from another one."""
        self._server.serve_forever()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
