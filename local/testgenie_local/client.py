"""A small HTTP client for the Test Genie API (stdlib only; SigV4 via botocore for a deployed API)."""

from __future__ import annotations

import json
import re
import socket
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

API_PREFIX = "/api/v1"
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "0.0.0.0"}  # noqa: S104 - a comparison, not a bind
_REGION_RE = re.compile(r"\.execute-api\.([a-z0-9-]+)\.amazonaws\.com$")


class ApiError(Exception):
    """The API answered with an error (status >= 400), or could not be reached (status 0)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body or b"null")

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


class ApiClient:
    def __init__(self, base_url: str, *, timeout: float = 60.0, sign: bool | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        parsed = urllib.parse.urlsplit(self.base_url)
        if parsed.scheme not in {"http", "https"} or not parsed.hostname:
            raise ApiError(0, f"not an http(s) URL: {base_url!r}")
        self.host = parsed.hostname
        self.timeout = timeout
        self.sign = (self.host not in LOCAL_HOSTS) if sign is None else sign
        self._session: Any = None  # botocore's, made on the first signed request

    def url(self, path: str, query: dict[str, Any] | None = None) -> str:
        url = f"{self.base_url}{API_PREFIX}{path}"
        params = {k: str(v) for k, v in (query or {}).items() if v is not None}
        return f"{url}?{urllib.parse.urlencode(params)}" if params else url

    def request(
        self,
        method: str,
        path: str,
        *,
        query: dict[str, Any] | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
        timeout: float | None = None,
    ) -> Response:
        url = self.url(path, query)
        data = json.dumps(body).encode() if body is not None else None
        all_headers = {"accept": "application/json", **(headers or {})}
        if data is not None:
            all_headers["content-type"] = "application/json"
        answer = self.send(method, url, data=data, headers=all_headers, timeout=timeout)
        if answer.status >= 400:
            raise ApiError(answer.status, _error_message(answer.status, answer.body))
        return answer

    def send(
        self,
        method: str,
        url: str,
        *,
        data: bytes | None = None,
        headers: dict[str, str] | None = None,
        timeout: float | None = None,
    ) -> Response:
        """One exchange with the API, SigV4-signed when this client signs; a 4xx/5xx is an answer too.

        `testgenie ui` forwards the browser's requests through here, so they are signed the same way.
        """
        all_headers = dict(headers or {})
        if self.sign:
            if self._session is None:
                self._session = signing_session()
            all_headers = _sigv4_headers(method, url, data, all_headers, self.host, self._session)
        request = urllib.request.Request(url, data=data, method=method, headers=all_headers)  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=timeout or self.timeout) as answer:  # noqa: S310
                return Response(
                    answer.status, {k.lower(): v for k, v in answer.headers.items()}, answer.read()
                )
        except urllib.error.HTTPError as err:
            return Response(err.code, {k.lower(): v for k, v in err.headers.items()}, err.read())
        except urllib.error.URLError as err:
            raise ApiError(
                0, f"cannot reach the Test Genie API at {self.base_url}: {_reason(err.reason)}"
            ) from None
        except TimeoutError:
            raise ApiError(0, f"the Test Genie API at {self.base_url} did not answer in time") from None
        except (ConnectionError, OSError) as err:
            raise ApiError(0, f"cannot reach the Test Genie API at {self.base_url}: {err}") from None

    def get(self, path: str, **query: Any) -> Any:
        return self.request("GET", path, query=query).json()

    def post(self, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Any:
        return self.request("POST", path, body=body if body is not None else {}, headers=headers).json()


def _reason(reason: object) -> str:
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused (is `testgenie serve` running?)"
    if isinstance(reason, socket.gaierror):
        return "unknown host"
    return str(reason)


def _error_message(status: int, raw: bytes) -> str:
    try:
        doc = json.loads(raw)
    except ValueError:
        doc = None
    if isinstance(doc, dict):
        message = doc.get("error") or doc.get("message") or doc.get("Message")
        if message:
            return f"{status}: {message}"
    text = raw.decode("utf-8", errors="replace").strip()
    return f"{status}: {text[:300] or 'no details'}"


def _sigv4_headers(
    method: str, url: str, data: bytes | None, headers: dict[str, str], host: str, session: Any = None
) -> dict[str, str]:
    """Sign for API Gateway (service execute-api) with the usual AWS credential chain."""
    session = session or signing_session()  # first: it names botocore when it is missing
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    credentials = session.get_credentials()
    if credentials is None:
        raise ApiError(
            0, "no AWS credentials found to sign the request (set AWS_PROFILE or AWS_ACCESS_KEY_ID)"
        )
    match = _REGION_RE.search(host)
    region = match.group(1) if match else session.get_config_variable("region") or "us-east-1"
    aws_request = AWSRequest(method=method, url=url, data=data or b"", headers=headers)
    SigV4Auth(credentials, "execute-api", region).add_auth(aws_request)
    return dict(aws_request.headers.items())


def signing_session() -> Any:
    """A botocore session (the usual credential chain); kept by a client that signs many requests."""
    try:
        import botocore.session
    except ImportError:
        raise ApiError(0, "signing requests for a deployed API needs botocore (pip install boto3)") from None
    return botocore.session.Session()
