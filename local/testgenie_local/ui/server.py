"""`testgenie ui`: the dashboard on 127.0.0.1, forwarding /api/v1/* to an API (signed when deployed).

Like `kubectl proxy`: the browser talks to this process only, and this process signs each request
with SigV4 from the user's AWS credentials (the same signing as the CLI, ApiClient.send), so the
browser never holds AWS keys and the API keeps IAM auth. Because a signing proxy on localhost would
act for any page that can reach it, it answers only requests whose Host is 127.0.0.1/localhost on
its own port (against DNS rebinding) and API requests from its own origin (against cross-site use).
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.wrappers import Request, Response

from testgenie_local.background_server import BackgroundServer
from testgenie_local.client import API_PREFIX, ApiClient, ApiError
from testgenie_local.ui.pages import PagesApp

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

ALLOWED_HOSTS = ("127.0.0.1", "localhost")
FORWARDED_REQUEST_HEADERS = ("accept", "content-type", "idempotency-key")
FORWARDED_ANSWER_HEADERS = ("content-type", "apigw-requestid", "x-amzn-requestid")
SAME_ORIGIN_FETCH = {"same-origin", "none"}  # Sec-Fetch-Site values of the dashboard's own fetches


class UiApp:
    """Guard (Host, origin) -> /api/v1/* forwarded through `client` -> everything else from PagesApp."""

    def __init__(self, client: ApiClient, port: Callable[[], int], pages: PagesApp | None = None) -> None:
        self.client = client
        self.port = port
        self.pages = pages or PagesApp()

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ)
        return self.response(request)(environ, start_response)

    def response(self, request: Request) -> Response:
        is_api = request.path == API_PREFIX or request.path.startswith(f"{API_PREFIX}/")
        refusal = self.refusal(request, is_api)
        if refusal is not None:
            return _json_error(403, refusal)
        return self.forward(request) if is_api else self.pages.response(request)

    def refusal(self, request: Request, is_api: bool) -> str | None:
        """Why this request is refused, or None."""
        host = request.headers.get("Host", "")
        expected = {f"{name}:{self.port()}" for name in ALLOWED_HOSTS}
        if host.lower() not in expected:
            return f"Host {host!r} refused: open the dashboard at http://127.0.0.1:{self.port()}/"
        if not is_api:
            return None
        origin = request.headers.get("Origin")
        if origin is not None and origin.lower() != f"http://{host.lower()}":
            return f"cross-origin request from {origin!r} refused"
        fetch_site = request.headers.get("Sec-Fetch-Site")
        if fetch_site is not None and fetch_site not in SAME_ORIGIN_FETCH:
            return f"{fetch_site} request refused"
        return None

    def forward(self, request: Request) -> Response:
        path = urllib.parse.quote(request.path, safe="/:@!$&'()*+,;=-._~")
        query = request.query_string.decode("latin-1")
        url = f"{self.client.base_url}{path}{'?' + query if query else ''}"
        headers = {k: v for k in FORWARDED_REQUEST_HEADERS if (v := request.headers.get(k))}
        data = request.get_data() if request.method in {"POST", "PUT", "PATCH", "DELETE"} else None
        try:
            answer = self.client.send(request.method, url, data=data, headers=headers)
        except ApiError as exc:  # unreachable, or no credentials to sign with
            return _json_error(502, exc.message)
        response = Response(answer.body, answer.status)
        for name in FORWARDED_ANSWER_HEADERS:
            if name in answer.headers:
                response.headers[name] = answer.headers[name]
        response.headers["Cache-Control"] = "no-store"
        return response


def _json_error(status: int, message: str) -> Response:
    return Response(json.dumps({"error": message}), status, mimetype="application/json")


class UiServer(BackgroundServer):
    """UiApp on 127.0.0.1:`port` (0 picks a free one), threaded, served from a background thread."""

    _thread_name = "ui"

    def __init__(self, client: ApiClient, port: int = 0) -> None:
        server: BaseWSGIServer = make_server(
            "127.0.0.1", port, UiApp(client, lambda: self.port), threaded=True
        )
        super().__init__(server)
