"""What the local gateway refuses before any function (or mounted app) sees a request.

The gateway listens on the user's machine, where any page in their browser can reach it: a
foreign `Host` (DNS rebinding), a cross-origin state change (CSRF) and a form-encoded POST are
refused, and a request whose body cannot be read as declared is answered at once (docs/local.md,
"What the gateway refuses"). Each check returns the refusal, or None to let the request through.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import Message

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_DIGITS = re.compile(r"[0-9]+")


@dataclass(frozen=True)
class Refusal:
    status: int
    message: str


def own_origins(port: int) -> frozenset[str]:
    """The `host:port` values this gateway answers to."""
    return frozenset(f"{name}:{port}" for name in LOOPBACK_NAMES)


def check_host(headers: Message, port: int) -> Refusal | None:
    host = (headers.get("host") or "").strip().lower()
    if host in own_origins(port):
        return None
    allowed = ", ".join(sorted(own_origins(port)))
    shown = host[:100] or "(none)"
    return Refusal(403, f"Forbidden: Host {shown} is not this gateway; use one of {allowed}")


def check_origin(method: str, headers: Message, port: int) -> Refusal | None:
    """A state-changing request from another origin is refused, whatever it carries."""
    if method in SAFE_METHODS:
        return None
    origin = headers.get("origin")
    if origin is not None and origin.strip().lower().removeprefix("http://") not in own_origins(port):
        return Refusal(403, f"Forbidden: cross-origin {method} from {origin[:100]}")
    if (headers.get("sec-fetch-site") or "").strip().lower() == "cross-site":
        return Refusal(403, f"Forbidden: cross-site {method}")
    return None


def check_content_type(method: str, headers: Message, length: int) -> Refusal | None:
    """A request body must be JSON: no browser form or `text/plain` POST gets through unasked."""
    if method not in _BODY_METHODS or length == 0:
        return None
    media = (headers.get("content-type") or "").split(";", 1)[0].strip().lower()
    if media == "application/json" or (media.startswith("application/") and media.endswith("+json")):
        return None
    return Refusal(
        415, f"Unsupported Media Type: a request body must be application/json, not {media[:80] or 'untyped'}"
    )


def content_length(headers: Message, max_bytes: int) -> int | Refusal:
    """The declared body length, or why it cannot be used (never an exception)."""
    if headers.get("transfer-encoding") is not None:
        return Refusal(411, "Length Required: send the body with a Content-Length, not chunked")
    values = {value.strip() for value in headers.get_all("content-length") or []}
    if not values:
        return 0
    if len(values) > 1:
        return Refusal(400, "Bad Request: conflicting Content-Length headers")
    (raw,) = values
    if not _DIGITS.fullmatch(raw):
        return Refusal(400, f"Bad Request: Content-Length must be a non-negative integer, not {raw[:40]!r}")
    length = int(raw)
    if length > max_bytes:
        return Refusal(413, "Request Entity Too Large")
    return length
