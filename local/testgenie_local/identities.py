"""The local AWS checks credentials and policies as AWS does (moto's IAM access control).

Each template function gets an IAM user in moto whose policy is its role's statements, read from
template.yaml (the role's `Policies`, or SAM `Policies` for a function without its own role), with
every reference resolved to the local queue and bucket ARNs. Its handler calls AWS with that user's
keys: the function's environments are threads of this process, and boto3's default session signs
every request with the keys of the function whose thread makes it (`ThreadCredentials`). Once the
stack has created its resources, moto's authentication is switched on (`/moto-api/reset-auth 0`,
moto's INITIAL_NO_AUTH_ACTION_COUNT): made-up keys are refused, and an action a function's role does
not allow in template.yaml fails locally as it would on AWS.

Two more users: `testgenie-stack` (everything: what the stack does itself, as CloudFormation and the
Lambda service would) and `testgenie-developer` (the scenarios/ prefix of the buckets for
`testgenie push`, sending to and looking at the queues; its keys are in the data dir's stack.json,
readable by the stack's user only).
"""

from __future__ import annotations

import json
import threading
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from botocore.credentials import CredentialProvider, Credentials, ReadOnlyCredentials

from testgenie_local.template import Resolver, TemplateError

STACK_USER = "testgenie-stack"
DEVELOPER_USER = "testgenie-developer"
# SAM policy templates the template uses, as SAM expands them (docs: "AWS SAM policy templates").
_S3_READ = [
    "s3:GetObject",
    "s3:ListBucket",
    "s3:GetBucketLocation",
    "s3:GetObjectVersion",
    "s3:GetLifecycleConfiguration",
]


# moto checks some requests under the API operation's name rather than the IAM action AWS checks
# (HeadObject is s3:GetObject on AWS, ListObjectsV2 is s3:ListBucket, ...): a statement allowing the
# action also allows those names, so what the template allows is exactly what passes.
_MOTO_NAMES = {
    "s3:GetObject": ["s3:HeadObject"],
    "s3:ListBucket": ["s3:ListObjects", "s3:ListObjectsV2", "s3:HeadBucket"],
    "s3:DeleteObject": ["s3:DeleteObjects"],
    "sqs:SendMessage": ["sqs:SendMessageBatch"],
    "sqs:DeleteMessage": ["sqs:DeleteMessageBatch"],
    "sqs:ChangeMessageVisibility": ["sqs:ChangeMessageVisibilityBatch"],
}


def for_moto(statement: Mapping[str, Any]) -> dict[str, Any]:
    """The statement with moto's operation names added next to the IAM actions they stand for."""
    actions = statement.get("Action", [])
    actions = [actions] if isinstance(actions, str) else list(actions)
    extra = [name for action in actions for name in _MOTO_NAMES.get(str(action), []) if name not in actions]
    return {**statement, "Action": actions + extra} if extra else dict(statement)


@dataclass(frozen=True)
class Keys:
    access_key_id: str
    secret_access_key: str


def _bucket_resources(name: Any) -> list[str]:
    return [f"arn:aws:s3:::{name}", f"arn:aws:s3:::{name}/*"]


def _sam_template(name: str, args: Mapping[str, Any]) -> list[dict[str, Any]]:
    if name == "S3ReadPolicy":
        return [
            {"Effect": "Allow", "Action": _S3_READ, "Resource": _bucket_resources(args.get("BucketName"))}
        ]
    raise TemplateError(f"the SAM policy template {name} is not known to the local stack (identities.py)")


def _statements(document: Any) -> list[dict[str, Any]]:
    if not isinstance(document, Mapping):
        return []
    found = document.get("Statement") or []
    return [dict(s) for s in (found if isinstance(found, list) else [found]) if isinstance(s, Mapping)]


def function_statements(resources: Mapping[str, Any], resolver: Resolver) -> dict[str, list[dict[str, Any]]]:
    """Every function's IAM statements, resolved: its own role's, else its SAM `Policies`'."""
    found: dict[str, list[dict[str, Any]]] = {}
    for logical, resource in resources.items():
        if not isinstance(resource, Mapping) or resource.get("Type") != "AWS::Serverless::Function":
            continue
        props = resolver.resolve(resource.get("Properties") or {})
        statements: list[dict[str, Any]] = []
        role = (resource.get("Properties") or {}).get("Role")
        role_logical = getattr(role, "value", None)
        if role is not None:
            name = role_logical[0] if isinstance(role_logical, list) else str(role_logical).split(".")[0]
            role_props = resolver.resolve((resources.get(name) or {}).get("Properties") or {})
            for policy in role_props.get("Policies") or []:
                if isinstance(policy, Mapping):
                    statements += _statements(policy.get("PolicyDocument"))
        else:
            for policy in props.get("Policies") or []:
                if isinstance(policy, Mapping) and "Statement" in policy:
                    statements += _statements(policy)
                elif isinstance(policy, Mapping) and len(policy) == 1:
                    ((template_name, args),) = policy.items()
                    statements += _sam_template(str(template_name), args if isinstance(args, Mapping) else {})
        found[logical] = [dict(s) for s in statements]
    return found


class _Identities:
    """Which keys the current thread signs with (the function whose environment it is)."""

    def __init__(self) -> None:
        self.keys: dict[str, Keys] = {}
        self.fallback: Keys | None = None
        self.local = threading.local()

    def current(self) -> Keys | None:
        name = getattr(self.local, "function", None)
        return self.keys.get(name, self.fallback) if name is not None else self.fallback


IDENTITIES = _Identities()


def act_as(function: str) -> None:
    """From now on this thread calls AWS as `function` (its environment's thread, for good)."""
    IDENTITIES.local.function = function


class ThreadCredentials(Credentials):
    """Credentials that are, for each request, those of the function whose thread signs it."""

    def __init__(self) -> None:
        super().__init__("unset", "unset")  # never used: botocore signs with get_frozen_credentials()

    def get_frozen_credentials(self) -> ReadOnlyCredentials:
        keys = IDENTITIES.current()
        if keys is None:
            return ReadOnlyCredentials("AKIANOFUNCTIONNOKEYS", "no-function-no-keys", None)
        return ReadOnlyCredentials(keys.access_key_id, keys.secret_access_key, None)


class _ThreadProvider(CredentialProvider):
    METHOD = "testgenie-local-function"
    CANONICAL_NAME = "TestGenieLocalFunction"

    def load(self) -> Credentials:
        return ThreadCredentials()


_thread_start = threading.Thread.start
_thread_run = threading.Thread.run


def _start(self: threading.Thread) -> None:
    self._testgenie_function = getattr(IDENTITIES.local, "function", None)  # type: ignore[attr-defined]
    _thread_start(self)


def _run(self: threading.Thread) -> None:
    function = getattr(self, "_testgenie_function", None)
    if function is not None:
        act_as(function)
    _thread_run(self)


def install_default_session() -> None:
    """boto3's default session (what the layer's `boto3.client(...)` uses) signs as the thread's function.

    A thread a function starts (a step pool of the durable SDK, a runner invoke) calls as that
    function too: threading.Thread carries the identity of the thread that started it.
    """
    import boto3
    import botocore.session

    threading.Thread.start = _start  # type: ignore[method-assign]
    threading.Thread.run = _run  # type: ignore[method-assign]

    session = botocore.session.get_session()
    session.get_component("credential_provider").insert_before("env", _ThreadProvider())
    boto3.setup_default_session(botocore_session=session)


def _create_user(iam: Any, name: str, statements: Iterable[Mapping[str, Any]]) -> Keys:
    iam.create_user(UserName=name)
    statements = [for_moto(statement) for statement in statements]
    if statements:
        document = {"Version": "2012-10-17", "Statement": statements}
        iam.put_user_policy(UserName=name, PolicyName="template", PolicyDocument=json.dumps(document))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return Keys(key["AccessKeyId"], key["SecretAccessKey"])


def provision(
    iam: Any, statements: Mapping[str, list[dict[str, Any]]], buckets: Iterable[str]
) -> dict[str, Keys]:
    """The users (function logical id -> keys, plus STACK_USER and DEVELOPER_USER)."""
    keys = {name: _create_user(iam, f"local-{name}", found) for name, found in statements.items()}
    keys[STACK_USER] = _create_user(iam, STACK_USER, [{"Effect": "Allow", "Action": "*", "Resource": "*"}])
    buckets = list(buckets)
    keys[DEVELOPER_USER] = _create_user(
        iam,
        DEVELOPER_USER,
        [
            {
                "Effect": "Allow",
                "Action": ["s3:ListBucket", "s3:GetBucketLocation"],
                "Resource": [f"arn:aws:s3:::{b}" for b in buckets],
            },
            {
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                "Resource": [f"arn:aws:s3:::{b}/scenarios/*" for b in buckets]
                + [f"arn:aws:s3:::{b}/*.tar.gz" for b in buckets],
            },
            # Queue a run by hand and look at the queues, as an operator may; never take a message.
            {
                "Effect": "Allow",
                "Action": ["sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"],
                "Resource": "*",
            },
        ],
    )
    return keys


def enforce(endpoint_url: str) -> None:
    """moto checks every request's signature and policy from now on (INITIAL_NO_AUTH_ACTION_COUNT 0)."""
    request = urllib.request.Request(  # noqa: S310 - the local moto server
        f"{endpoint_url}/moto-api/reset-auth",
        data=b"0",
        method="POST",
        headers={"Content-Type": "text/plain"},
    )
    with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310
        answer.read()
