"""Pre-signed S3 URLs against the local AWS, honoured as S3 honours them.

moto checks credentials only in an Authorization header, so with its access control on it cannot
serve a pre-signed URL. The runner's host (runner_host.py) is what uses those URLs locally (it
fetches the bundle and carries the log for the sandbox), so it does what S3 does: checks the URL's
signature with the signer's secret and its expiry, then makes the request *as the signer*, so moto
still checks the signer's policy (a coordinator's pre-signed PUT outside executions/ is refused).
URLs of any other host are plain HTTP requests.
"""

from __future__ import annotations

import hmac
import os
import time
import urllib.request
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

from botocore.auth import HmacV1Auth
from botocore.awsrequest import HTTPHeaders
from botocore.credentials import Credentials

from testgenie_local.identities import IDENTITIES


class PresignedRefused(Exception):
    pass


def _local_aws() -> str | None:
    return os.environ.get("AWS_ENDPOINT_URL") or None


class _SignedAt(HmacV1Auth):
    """Signature version 2 query auth, at the URL's own expiry (not now + expires)."""

    def __init__(self, credentials: Credentials, expires: str) -> None:
        super().__init__(credentials)
        self._at = expires

    def _get_date(self) -> str:
        return self._at


def _signer(url: str, method: str, headers: Mapping[str, str]) -> tuple[str, str, str]:
    """(access key id, bucket, key) of a valid, unexpired URL; PresignedRefused otherwise."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    given = dict(query)
    if "Signature" not in given:
        raise PresignedRefused("only pre-signed URLs of signature version 2 are honoured locally")
    secrets = {keys.access_key_id: keys.secret_access_key for keys in IDENTITIES.keys.values()}
    akid = given.get("AWSAccessKeyId", "")
    if akid not in secrets:
        raise PresignedRefused("the URL is signed with keys the local AWS does not know")
    if int(given.get("Expires", "0") or 0) < time.time():
        raise PresignedRefused("the URL expired")
    rest = [(k, v) for k, v in query if k not in {"Signature", "AWSAccessKeyId", "Expires"}]
    signed = HTTPHeaders()
    for name, value in headers.items():
        signed[name] = value
    expected = _SignedAt(Credentials(akid, secrets[akid]), given["Expires"]).get_signature(
        method,
        parts._replace(query=urlencode(rest)),
        signed,  # type: ignore[arg-type]
    )
    if not hmac.compare_digest(expected, given["Signature"]):
        raise PresignedRefused("the URL's signature does not match")
    bucket, _, key = unquote(parts.path).lstrip("/").partition("/")
    return akid, bucket, key


def _client_as(akid: str) -> Any:
    import boto3

    secret = next(k.secret_access_key for k in IDENTITIES.keys.values() if k.access_key_id == akid)
    return boto3.client(
        "s3",
        endpoint_url=_local_aws(),
        region_name=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
        aws_access_key_id=akid,
        aws_secret_access_key=secret,
    )


def get(url: str, limit: int, timeout: float = 60) -> bytes:
    """The bytes behind a GET URL (at most `limit` + 1 of them, so the caller can refuse more)."""
    endpoint = _local_aws()
    if endpoint is None or not url.startswith(endpoint):
        with urllib.request.urlopen(url, timeout=timeout) as answer:  # noqa: S310 - http(s)/file
            data: bytes = answer.read(limit + 1)
            return data
    akid, bucket, key = _signer(url, "GET", {})
    body: bytes = _client_as(akid).get_object(Bucket=bucket, Key=key)["Body"].read(limit + 1)
    return body


def put(url: str, data: bytes, headers: Mapping[str, str], timeout: float = 60) -> None:
    """PUT `data` where the URL says (urllib's errors, or PresignedRefused / botocore's for the local AWS)."""
    endpoint = _local_aws()
    if endpoint is None or not url.startswith(endpoint):
        request = urllib.request.Request(url, data=data, method="PUT", headers=dict(headers))  # noqa: S310
        with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310
            answer.read()
        return
    akid, bucket, key = _signer(url, "PUT", headers)
    content_type = {k.lower(): v for k, v in headers.items()}.get("content-type")
    extra = {"ContentType": content_type} if content_type else {}
    _client_as(akid).put_object(Bucket=bucket, Key=key, Body=data, **extra)
