"""The dashboard's static files as a WSGI app: mounted at `/` by the local stack and by `testgenie ui`.

Plain HTML, CSS and JavaScript modules with the chart library vendored beside them (no build step);
the Content-Security-Policy keeps every script, style and fetch on this origin, so nothing is loaded
from the internet at page load.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from werkzeug.exceptions import NotFound
from werkzeug.utils import send_from_directory
from werkzeug.wrappers import Request, Response

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

STATIC_DIR = Path(__file__).resolve().parent / "static"
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",  # revalidate: a new checkout's pages show at once
}


class PagesApp:
    """GET/HEAD of the files under `static/`; `/` is index.html (the pages route by the URL's #hash)."""

    def __init__(self, root: Path = STATIC_DIR) -> None:
        self.root = root

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        return self.response(Request(environ))(environ, start_response)

    def response(self, request: Request) -> Response:
        if request.method not in {"GET", "HEAD"}:
            answer = Response(
                "only GET and HEAD here\n", 405, mimetype="text/plain", headers={"Allow": "GET, HEAD"}
            )
        else:
            name = request.path.lstrip("/") or "index.html"
            try:
                # send_from_directory refuses paths that leave the folder (../, absolute, NUL).
                answer = send_from_directory(self.root, name, request.environ, max_age=0)
            except NotFound:
                answer = Response(f"not found: {request.path}\n", 404, mimetype="text/plain")
        answer.headers.update(SECURITY_HEADERS)
        return answer
