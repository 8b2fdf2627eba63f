"""`testgenie push`: a scenario folder as `<prefix>/<scenario>.tar.gz` in the scenarios bucket."""

from __future__ import annotations

import io
import json
import re
import tarfile
from pathlib import Path

_NAME_RE = re.compile(r"^[A-Za-z0-9_-]+$")
_SKIP_DIRS = {".git", "node_modules", "__pycache__", ".venv", ".pytest_cache", ".mypy_cache", ".ruff_cache"}


class BundleError(Exception):
    pass


def bundle(folder: Path) -> bytes:
    """A gzipped tar of the folder's regular files and folders (no links, no caches)."""
    if not folder.is_dir():
        raise BundleError(f"not a folder: {folder}")
    if not (folder / ".testgenie" / "testing.json").is_file():
        raise BundleError(f"{folder} has no .testgenie/testing.json: is it a scenario?")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for path in sorted(folder.rglob("*")):
            rel = path.relative_to(folder)
            if any(part in _SKIP_DIRS for part in rel.parts) or path.is_symlink():
                continue
            if path.is_dir() or path.is_file():
                tar.add(path, arcname=str(rel), recursive=False)
    return buffer.getvalue()


def push_scenario(
    folder: Path, scenario: str, bucket: str | None, prefix: str, data_dir: Path | None = None
) -> str:
    if not _NAME_RE.match(scenario):
        raise BundleError("--scenario must contain only letters, digits, '-' and '_'")
    import boto3

    kwargs: dict[str, str] = {}
    if bucket is None:
        # The local stack's bucket, from the state file `testgenie serve` writes.
        state = (data_dir or Path(".testgenie-data")) / "stack.json"
        if not state.is_file():
            raise BundleError("no --bucket given and no local stack found (set TESTGENIE_SCENARIOS_BUCKET)")
        info = json.loads(state.read_text())
        buckets = list(info.get("buckets", {}).values())
        if not buckets:
            raise BundleError("the local stack has no bucket")
        bucket = str(buckets[0])
        kwargs = {
            "endpoint_url": info["aws_endpoint"],
            "aws_access_key_id": "testing",
            "aws_secret_access_key": "testing",
            "region_name": "us-east-1",
        }
    key = f"{prefix.strip('/')}/{scenario}.tar.gz" if prefix.strip("/") else f"{scenario}.tar.gz"
    client = boto3.client("s3", **kwargs)  # type: ignore[call-overload]
    client.put_object(Bucket=bucket, Key=key, Body=bundle(folder), ContentType="application/gzip")
    return f"s3://{bucket}/{key}"
