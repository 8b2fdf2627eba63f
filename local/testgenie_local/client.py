"""A small HTTP client for the Test Genie API (stdlib only; SigV4 via botocore for a deployed API)."""

from __future__ import annotations

import json
import random
import re
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

API_PREFIX = "/api/v1"
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "0.0.0.0"}  # noqa: S104 - a comparison, not a bind
_REGION_RE = re.compile(r"\.execute-api\.([a-z0-9-]+)\.amazonaws\.com$")


class ApiError(Exception):
    """The API answered with an error (status >= 400), or could not be reached (status 0)."""

    def __init__(
        self, status: int, message: str, *, retry_after: float | None = None, ours: bool = False
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.retry_after = retry_after  # the answer's Retry-After, in seconds
        self.ours = ours  # the service's own {"error": …} body, not API Gateway's


# The service's 503 when PostgreSQL has no free connection: nothing was done (docs/deploying.md).
DATABASE_BUSY = "database busy, retry"


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded exponential backoff with full jitter for answers that mean "not done, try again":
    429; 503 from API Gateway (a throttled function) or the service's "database busy, retry"; any 503
    (and 502/504) when the request is safe to repeat (GET, or a POST carrying an Idempotency-Key)."""

    attempts: int = 5  # in all, the first one included
    base_delay: float = 0.5
    max_delay: float = 8.0
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    jitter: Callable[[float], float] = field(default=lambda cap: random.uniform(0, cap), repr=False)

    def delay(self, attempt: int, error: ApiError) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based)."""
        if error.retry_after is not None:
            return min(max(error.retry_after, 0.0), self.max_delay)
        return self.jitter(min(self.max_delay, self.base_delay * 2 ** (attempt - 1)))


def should_retry(method: str, headers: dict[str, str], error: ApiError) -> bool:
    repeatable = method == "GET" or any(k.lower() == "idempotency-key" for k in headers)
    if error.status == 429:
        return True
    if error.status == 503:
        return repeatable or not error.ours or DATABASE_BUSY in error.message
    return repeatable and error.status in {502, 504}


NO_RETRY = RetryPolicy(attempts=1)


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
    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 60.0,
        sign: bool | None = None,
        retry: RetryPolicy = NO_RETRY,
        on_retry: Callable[[str], None] | None = None,
    ) -> None:
        # The stack's ApiUrl output ends in /api/v1; the client adds the prefix itself.
        self.base_url = base_url.rstrip("/").removesuffix(API_PREFIX)
        parsed = urllib.parse.urlsplit(self.base_url)
        if parsed.scheme not in {"http", "https"} or not parsed.hostname:
            raise ApiError(0, f"not an http(s) URL: {base_url!r}")
        self.host = parsed.hostname
        self.timeout = timeout
        self.sign = (self.host not in LOCAL_HOSTS) if sign is None else sign
        self.retry = retry
        self.on_retry = on_retry
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
        """One API call; answers that mean "not done, try again" are retried as self.retry says."""
        for attempt in range(1, self.retry.attempts + 1):
            try:
                return self._once(method, path, query=query, body=body, headers=headers, timeout=timeout)
            except ApiError as error:
                if attempt == self.retry.attempts or not should_retry(method, headers or {}, error):
                    raise
                wait = self.retry.delay(attempt, error)
                if self.on_retry is not None:
                    self.on_retry(
                        f"{error.message}; retrying in {wait:.1f} s ({attempt + 1}/{self.retry.attempts})"
                    )
                self.retry.sleep(wait)
        raise AssertionError("unreachable")

    def _once(
        self,
        method: str,
        path: str,
        *,
        query: dict[str, Any] | None,
        body: Any,
        headers: dict[str, str] | None,
        timeout: float | None,
    ) -> Response:
        url = self.url(path, query)
        data = json.dumps(body).encode() if body is not None else None
        all_headers = {"accept": "application/json", **(headers or {})}
        if data is not None:
            all_headers["content-type"] = "application/json"
        answer = self.send(method, url, data=data, headers=all_headers, timeout=timeout)
        if answer.status >= 400:
            raise ApiError(
                answer.status,
                _error_message(answer.status, answer.body),
                retry_after=_seconds(answer.headers.get("retry-after")),
                ours=_is_service_error(answer.body),
            )
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
            return Response(err.code, {k.lower(): v for k, v in (err.headers or {}).items()}, err.read())
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
        return "connection refused"
    if isinstance(reason, socket.gaierror):
        return "unknown host"
    return str(reason)


def _seconds(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None  # an HTTP date: fall back to the backoff


def _is_service_error(raw: bytes) -> bool:
    try:
        doc = json.loads(raw)
    except ValueError:
        return False
    return isinstance(doc, dict) and "error" in doc


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
