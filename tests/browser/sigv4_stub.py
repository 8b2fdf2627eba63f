"""A stand-in for API Gateway with IAM auth: verifies each request's SigV4 signature with botocore."""

from __future__ import annotations

import hmac
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

ACCESS_KEY = "AKIDSTUBSIGV4TEST000"
SECRET_KEY = "stub-secret-key-for-sigv4-tests"
REGION = "eu-west-1"
_AUTH_RE = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/execute-api/aws4_request, "
    r"SignedHeaders=(?P<signed>[a-z0-9;-]+), Signature=(?P<signature>[0-9a-f]{64})$"
)
# Enough of every list shape for the pages to render their empty states.
EMPTY_PAGE = {"items": [], "count": 0, "nextCursor": None, "status": "healthy", "queue": {}}


def signature_problem(method: str, path: str, headers: dict[str, str], body: bytes) -> str | None:
    """Why this request is not signed by ACCESS_KEY for execute-api in REGION, or None."""
    found = _AUTH_RE.match(headers.get("authorization", ""))
    if found is None:
        return "no SigV4 Authorization header"
    if found["key"] != ACCESS_KEY or found["region"] != REGION:
        return f"wrong credential scope {found['key']}/{found['region']}"
    try:
        signed = {name: headers[name] for name in found["signed"].split(";")}
    except KeyError as missing:
        return f"signed header {missing} not sent"
    request = AWSRequest(method=method, url=f"http://{headers['host']}{path}", data=body, headers=signed)
    request.context["timestamp"] = headers.get("x-amz-date", "")
    auth = SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), "execute-api", REGION)
    expected = auth.signature(auth.string_to_sign(request, auth.canonical_request(request)), request)
    return None if hmac.compare_digest(expected, found["signature"]) else "signature does not match"


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    problem: str | None


@dataclass
class SigV4Stub:
    server: ThreadingHTTPServer
    seen: list[Seen] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def start_stub() -> SigV4Stub:
    stub: SigV4Stub

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            problem = signature_problem(self.command, self.path, headers, body)
            stub.seen.append(Seen(self.command, self.path, headers, body, problem))
            status, doc = (403, {"message": problem}) if problem else (200, _answer_for(self.path, body))
            data = json.dumps(doc).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = _answer

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    stub = SigV4Stub(server)
    threading.Thread(target=server.serve_forever, name="sigv4-stub", daemon=True).start()
    return stub


def _answer_for(path: str, body: bytes) -> dict[str, Any]:
    if body:
        return {"verified": True, "path": path, "echo": json.loads(body)}
    return {**EMPTY_PAGE, "verified": True, "path": path}
