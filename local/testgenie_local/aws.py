"""moto's server for SQS and S3 on 127.0.0.1, holding the template's queues (with redrive) and buckets.

The stack points boto3 at it with AWS_ENDPOINT_URL, so code in the layer needs no endpoint setting.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from testgenie_local.template import QueueSpec, Template

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient

REGION = "us-east-1"
ACCOUNT = "123456789012"
# Fake credentials: the local stack never talks to real AWS.
FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


@dataclass
class LocalAws:
    endpoint_url: str
    region: str = REGION
    queue_urls: dict[str, str] = field(default_factory=dict)  # logical id -> URL
    queue_arns: dict[str, str] = field(default_factory=dict)
    bucket_names: dict[str, str] = field(default_factory=dict)
    _server: Any = None
    # The stack's own keys once moto checks credentials (identities.py); before, any keys do.
    _keys: tuple[str, str] = (
        FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )

    def use_keys(self, keys: Any) -> None:
        self._keys = (keys.access_key_id, keys.secret_access_key)

    def client(self, service: str, keys: Any = None) -> Any:
        """A client of the local AWS, as the stack itself (or with `keys`: a function's)."""
        import boto3

        access, secret = (keys.access_key_id, keys.secret_access_key) if keys is not None else self._keys
        return boto3.client(
            service,  # type: ignore[call-overload]
            endpoint_url=self.endpoint_url,
            region_name=self.region,
            aws_access_key_id=access,
            aws_secret_access_key=secret,
        )

    def sqs(self) -> SQSClient:
        client: SQSClient = self.client("sqs")
        return client

    def s3(self) -> S3Client:
        client: S3Client = self.client("s3")
        return client

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None


# moto's server runs in its own session (below), so it must still die with the stack even when the
# stack is killed outright: on Linux it asks for SIGKILL when its parent dies (PR_SET_PDEATHSIG).
_MOTO_LAUNCHER = """
import ctypes, os, runpy, signal, sys
parent, host, port = int(sys.argv[1]), sys.argv[2], sys.argv[3]
if sys.platform.startswith("linux"):
    ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL))
if os.getppid() != parent:
    sys.exit(0)
sys.argv = ["moto.server", "-H", host, "-p", port]
runpy.run_module("moto.server", run_name="__main__")
"""


class MotoProcess:
    """moto's server in its own process: its request handling never competes with the handlers for
    this process's GIL (in-process, it cost the stack about a third of its throughput)."""

    def __init__(self, host: str, port: int, start_timeout: float = 60.0) -> None:
        if port == 0:
            with socket.socket() as probe:
                probe.bind((host, 0))
                port = int(probe.getsockname()[1])
        self.host, self.port = host, port
        self._process = subprocess.Popen(
            [sys.executable, "-c", _MOTO_LAUNCHER, str(os.getpid()), host, str(port)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            # Its own session: a terminal's Ctrl-C (SIGINT to the whole foreground group) must not
            # end moto before the pollers that use it; LocalStack.stop ends it in order.
            start_new_session=True,
        )
        deadline = time.monotonic() + start_timeout
        while True:
            if self._process.poll() is not None:
                raise RuntimeError(f"moto's server exited with {self._process.returncode} on port {port}")
            try:
                socket.create_connection((host, port), timeout=0.5).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"moto's server did not listen on {host}:{port}") from None
                time.sleep(0.05)

    def stop(self) -> None:
        if self._process.poll() is None:
            self._process.kill()  # state is in memory only; nothing to flush
        self._process.wait()


def start_moto(host: str = "127.0.0.1", port: int = 0) -> LocalAws:
    server = MotoProcess(host, port)
    return LocalAws(endpoint_url=f"http://{server.host}:{server.port}", _server=server)


def create_resources(aws: LocalAws, template: Template) -> None:
    """The template's queues (dead-letter queues first) and buckets."""
    sqs = aws.sqs()
    pending = dict(template.queues)
    while pending:
        progressed = False
        for logical, spec in list(pending.items()):
            if spec.dead_letter_queue and spec.dead_letter_queue not in aws.queue_arns:
                if spec.dead_letter_queue not in pending:
                    raise ValueError(f"{logical}: dead-letter queue {spec.dead_letter_queue} is not declared")
                continue
            _create_queue(aws, sqs, spec)
            del pending[logical]
            progressed = True
        if not progressed:
            raise ValueError(f"queues redrive to each other in a cycle: {sorted(pending)}")
    s3 = aws.s3()
    for logical, bucket in template.buckets.items():
        s3.create_bucket(Bucket=bucket.name)
        aws.bucket_names[logical] = bucket.name


def _create_queue(aws: LocalAws, sqs: SQSClient, spec: QueueSpec) -> None:
    attributes: dict[str, str] = {"VisibilityTimeout": str(spec.visibility_timeout_seconds)}
    if spec.message_retention_seconds is not None:
        attributes["MessageRetentionPeriod"] = str(spec.message_retention_seconds)
    if spec.fifo:
        attributes["FifoQueue"] = "true"
    if spec.dead_letter_queue:
        attributes["RedrivePolicy"] = json.dumps(
            {
                "deadLetterTargetArn": aws.queue_arns[spec.dead_letter_queue],
                "maxReceiveCount": spec.max_receive_count or 10,
            }
        )
    url = sqs.create_queue(QueueName=spec.name, Attributes=attributes)["QueueUrl"]  # type: ignore[arg-type]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    aws.queue_urls[spec.logical_id] = url
    aws.queue_arns[spec.logical_id] = arn


def aws_environment(aws: LocalAws) -> dict[str, str | None]:
    """What boto3 in this process needs to talk to the local moto server and nothing else."""
    return {
        "AWS_ENDPOINT_URL": aws.endpoint_url,
        "AWS_DEFAULT_REGION": aws.region,
        "AWS_REGION": aws.region,
        **FAKE_CREDENTIALS,
        "AWS_SESSION_TOKEN": None,
        "AWS_PROFILE": None,
    }
