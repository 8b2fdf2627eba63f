"""Scenario bundles from folders: `testgenie push`, and what `serve --scenarios DIR` uploads at start.

A bundle is the scenario's files (bundles.pack_folder: reproducible, no links, no caches) plus, when
testing.json declares `"python": {"requirements": …}`, those packages resolved for the runner
that will run it and vendored under `.testgenie/vendor/python` (docs/scenarios.md). The runner of
a deployed stack is python3.13 on arm64 Linux; the local runner is a venv of the machine's own
interpreter, so a push to the local stack resolves for that interpreter and this machine instead —
wheels are platform-specific and one vendored tree cannot serve both.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from testgenie.errors import ValidationError
from testgenie.orchestrator.planning.catalog import SCENARIO_NAME_RE, SCENARIO_NAME_RULE
from testgenie.orchestrator.planning.testing_config import CONFIG_RELPATH, load_testing_config
from testgenie.orchestrator.run.workspace import VENDOR_RELPATH
from testgenie.orchestrator.sources.base import DIGEST_METADATA
from testgenie.orchestrator.sources.bundles import bundle_digest, pack_folder

from testgenie_local.stack_state import running_stack

PIP_TIMEOUT_SECONDS = 600
# The local runner's interpreter (local/testgenie_local/runner_venv.py builds its venv from it).
LOCAL_RUNNER_PYTHON = os.environ.get("TESTGENIE_RUNNER_PYTHON", "/usr/bin/python3")


class BundleError(Exception):
    pass


@dataclass(frozen=True)
class PythonTarget:
    """The interpreter and platform a scenario's Python dependencies are resolved for."""

    name: str  # "lambda" | "local"
    python_version: str  # "3.13"
    platform: str | None  # a pip --platform tag; None: this machine

    def pip_arguments(self) -> list[str]:
        args = ["--python-version", self.python_version, "--implementation", "cp", "--only-binary=:all:"]
        return [*args, "--platform", self.platform] if self.platform else args

    def describe(self) -> str:
        return f"Python {self.python_version} on {self.platform or 'this machine'}"


LAMBDA_TARGET = PythonTarget("lambda", "3.13", "manylinux2014_aarch64")


def local_target(python: str = LOCAL_RUNNER_PYTHON) -> PythonTarget:
    """The local runner's Python version, on this machine."""
    try:
        version = subprocess.run(
            [python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError) as exc:
        raise BundleError(
            f"cannot ask the local runner's interpreter {python} for its version: {exc}"
        ) from None
    return PythonTarget("local", version, None)


def _vendor(folder: Path, requirements: str, target: PythonTarget, into: Path) -> None:
    source = folder / requirements
    if not source.is_file():
        raise BundleError(
            f"{CONFIG_RELPATH} declares python.requirements '{requirements}', which is not a file"
        )
    command = [
        sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile",
        "--no-input", *target.pip_arguments(), "--target", str(into), "-r", str(source),
    ]  # fmt: skip
    try:
        done = subprocess.run(
            command, cwd=folder, capture_output=True, text=True, timeout=PIP_TIMEOUT_SECONDS, check=False
        )
    except subprocess.TimeoutExpired:
        raise BundleError(f"pip did not resolve {requirements} within {PIP_TIMEOUT_SECONDS} s") from None
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip().splitlines()[-5:]
        raise BundleError(
            f"cannot vendor {requirements} for {target.describe()} (only wheels are used"
            f"{'; a package without a ' + target.platform + ' or pure-Python wheel cannot run there' if target.platform else ''}"
            "):\n  " + "\n  ".join(detail)
        )


def build_bundle(folder: Path, target: PythonTarget | None = LAMBDA_TARGET) -> bytes:
    """The scenario's bundle; its declared Python test dependencies vendored for `target` (None: not)."""
    if not folder.is_dir():
        raise BundleError(f"not a folder: {folder}")
    if not (folder / CONFIG_RELPATH).is_file():
        raise BundleError(f"{folder} has no {CONFIG_RELPATH}: is it a scenario?")
    try:
        config = load_testing_config(folder)  # refuse a broken config here, not at the first run
    except ValidationError as exc:
        raise BundleError(str(exc)) from None
    requirements = config.python.requirements
    if requirements is None or target is None:
        return pack_folder(folder)
    with tempfile.TemporaryDirectory(prefix="testgenie-vendor-") as tmp:
        _vendor(folder, requirements, target, Path(tmp))
        return pack_folder(folder, extra={VENDOR_RELPATH: Path(tmp)}, skip=VENDOR_RELPATH)


def config_warnings(folder: Path) -> list[str]:
    """What the scenario's testing.json holds that no setting reads (a typo, a key of another tool)."""
    return load_testing_config(folder).warnings


def bundle(folder: Path) -> bytes:
    """The scenario's files only (no dependencies resolved)."""
    return build_bundle(folder, target=None)


def bundle_key(prefix: str, scenario: str) -> str:
    return f"{prefix.strip('/')}/{scenario}.tar.gz" if prefix.strip("/") else f"{scenario}.tar.gz"


def upload(client: Any, bucket: str, key: str, data: bytes) -> None:
    """put_object with the digest the coordinator hands the runner (no need to hash it again)."""
    client.put_object(
        Bucket=bucket,
        Key=key,
        Body=data,
        ContentType="application/gzip",
        Metadata={DIGEST_METADATA: bundle_digest(data)},
    )


def upload_scenarios(root: Path, client: Any, bucket: str, prefix: str, target: PythonTarget) -> list[str]:
    """Every scenario folder under `root` as a bundle (what `serve --scenarios DIR` does at start)."""
    names = []
    for folder in sorted(root.iterdir()):
        if folder.is_dir() and SCENARIO_NAME_RE.match(folder.name) and (folder / CONFIG_RELPATH).is_file():
            upload(client, bucket, bundle_key(prefix, folder.name), build_bundle(folder, target))
            names.append(folder.name)
    return names


@dataclass(frozen=True)
class Destination:
    bucket: str
    client: Any
    target: PythonTarget
    local: bool


def _destination(bucket: str | None, data_dir: Path, platform: str | None) -> Destination:
    import boto3

    info = running_stack(data_dir)
    local_buckets = [str(b) for b in (info or {}).get("buckets", {}).values()]
    if bucket is None and not local_buckets:
        raise BundleError("no --bucket given and no local stack found (set TESTGENIE_SCENARIOS_BUCKET)")
    if info is not None and (
        bucket is None or bucket in local_buckets or bucket in info.get("extra_buckets", [])
    ):
        # The running local stack's moto: the same bucket name in real AWS is someone else's.
        # The developer's keys the stack wrote into its stack.json (the local AWS checks keys).
        keys = info.get("aws_developer_keys") or {"accessKeyId": "testing", "secretAccessKey": "testing"}
        client = boto3.client(
            "s3",
            endpoint_url=info["aws_endpoint"],
            aws_access_key_id=keys["accessKeyId"],
            aws_secret_access_key=keys["secretAccessKey"],
            region_name="us-east-1",
        )
        chosen = bucket or local_buckets[0]
        return Destination(chosen, client, LAMBDA_TARGET if platform == "lambda" else local_target(), True)
    assert bucket is not None
    return Destination(
        bucket, boto3.client("s3"), local_target() if platform == "local" else LAMBDA_TARGET, False
    )


def push_scenario(
    folder: Path,
    scenario: str,
    bucket: str | None,
    prefix: str,
    data_dir: Path | None = None,
    platform: str | None = None,
) -> str:
    """Bundle `folder` (its Python dependencies vendored) and upload it as `<prefix>/<scenario>.tar.gz`."""
    if not SCENARIO_NAME_RE.match(scenario):
        raise BundleError(f"--scenario {SCENARIO_NAME_RULE}")
    from botocore.exceptions import BotoCoreError, ClientError

    where = _destination(bucket, data_dir or Path(".testgenie-data"), platform)
    data = build_bundle(folder, where.target)
    key = bundle_key(prefix, scenario)
    try:
        upload(where.client, where.bucket, key, data)
    except (BotoCoreError, ClientError) as exc:
        stack = "the local stack (is `testgenie serve` running?)" if where.local else "AWS"
        raise BundleError(f"cannot upload to s3://{where.bucket}/{key} on {stack}: {exc}") from None
    return f"s3://{where.bucket}/{key}"
