"""Reads `template.yaml`: what the local stack needs to run the same functions as CloudFormation would.

Only the facts the one-machine stack uses are extracted: each function's code, handler, timeout,
environment, HttpApi routes, SQS event sources and ScheduleV2 schedules; the queues (with their
redrive policy and visibility timeout) and the buckets. CloudFormation's intrinsic functions
(`!Ref`, `!GetAtt`, `!Sub`, …) are kept as `Intrinsic` values and resolved against a small context:
parameter defaults, pseudo parameters and the local names of the resources.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

DEFAULT_TIMEOUT_SECONDS = 3  # Lambda's default
DEFAULT_VISIBILITY_TIMEOUT_SECONDS = 30  # SQS's default

_SHORT_TAGS = (
    "Ref",
    "GetAtt",
    "Sub",
    "Join",
    "Select",
    "Split",
    "If",
    "Equals",
    "Not",
    "And",
    "Or",
    "FindInMap",
    "GetAZs",
    "ImportValue",
    "Base64",
    "Cidr",
    "Condition",
    "Transform",
)


class TemplateError(Exception):
    """The template lacks something the local stack needs, or holds something it cannot read."""


@dataclass(frozen=True)
class Intrinsic:
    """An unresolved CloudFormation intrinsic function, e.g. Intrinsic("Ref", "MyQueue")."""

    name: str
    value: Any


class _Loader(yaml.SafeLoader):
    """SafeLoader that keeps CloudFormation's short-form tags instead of refusing them."""


def _make_constructor(tag: str) -> Callable[[yaml.SafeLoader, yaml.Node], Intrinsic]:
    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> Intrinsic:
        value: Any
        if isinstance(node, yaml.ScalarNode):
            value = loader.construct_scalar(node)
            if tag == "GetAtt" and isinstance(value, str):
                value = value.split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
        return Intrinsic("Condition" if tag == "Condition" else tag, value)

    return construct


for _tag in _SHORT_TAGS:
    _Loader.add_constructor(f"!{_tag}", _make_constructor(_tag))


def load_yaml(text: str) -> dict[str, Any]:
    data = yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    if not isinstance(data, dict):
        raise TemplateError("the template is not a YAML mapping")
    converted: dict[str, Any] = _long_forms(data)
    return converted


def _long_forms(value: Any) -> Any:
    """`{"Ref": X}` / `{"Fn::GetAtt": …}` (JSON style) become Intrinsic too."""
    if isinstance(value, dict):
        if len(value) == 1:
            (key, inner), *_ = value.items()
            if key == "Ref":
                return Intrinsic("Ref", _long_forms(inner))
            if isinstance(key, str) and key.startswith("Fn::"):
                name = key[4:]
                inner = _long_forms(inner)
                if name == "GetAtt" and isinstance(inner, str):
                    inner = inner.split(".", 1)
                return Intrinsic(name, inner)
        return {k: _long_forms(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_long_forms(v) for v in value]
    return value


# -- resolved model -------------------------------------------------------------------------------


@dataclass(frozen=True)
class HttpRoute:
    method: str  # upper case, or "ANY"
    path: str  # "/api/v1/executions/{id}", or "$default"
    event_name: str


@dataclass(frozen=True)
class SqsSource:
    event_name: str
    queue: str  # logical id of the queue
    batch_size: int = 10
    batching_window_seconds: int = 0
    report_batch_item_failures: bool = False
    maximum_concurrency: int | None = None
    enabled: bool = True


@dataclass(frozen=True)
class Schedule:
    event_name: str
    expression: str
    input: Any  # the parsed Input (a JSON document), or None
    enabled: bool = True


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    code_uri: Path
    handler: str  # "module.attr"
    timeout_seconds: int
    environment: dict[str, Any]  # raw values (may hold Intrinsic)
    routes: list[HttpRoute] = field(default_factory=list)
    sqs_sources: list[SqsSource] = field(default_factory=list)
    schedules: list[Schedule] = field(default_factory=list)
    layers: list[Path] = field(default_factory=list)
    reserved_concurrency: int | None = None  # ReservedConcurrentExecutions (the connection budget)
    # DurableConfig.ExecutionTimeout: a durable function (its executions run under the local
    # durable service, docs/local-stack.md); None for a plain function.
    durable_execution_timeout: int | None = None
    tenant_isolation: str | None = None  # TenancyConfig.TenantIsolationMode (PER_TENANT)

    @property
    def module_name(self) -> str:
        return self.handler.rsplit(".", 1)[0]

    @property
    def function_name(self) -> str:
        return self.handler.rsplit(".", 1)[1]


@dataclass(frozen=True)
class QueueSpec:
    logical_id: str
    name: str
    visibility_timeout_seconds: int = DEFAULT_VISIBILITY_TIMEOUT_SECONDS
    message_retention_seconds: int | None = None
    dead_letter_queue: str | None = None  # logical id
    max_receive_count: int | None = None
    fifo: bool = False


@dataclass(frozen=True)
class BucketSpec:
    logical_id: str
    name: str


@dataclass
class Template:
    path: Path
    functions: dict[str, FunctionSpec]
    queues: dict[str, QueueSpec]
    buckets: dict[str, BucketSpec]
    parameters: dict[str, Any]
    resources: dict[str, Any]
    conditions: dict[str, Any] = field(default_factory=dict)
    mappings: dict[str, Any] = field(default_factory=dict)

    @property
    def root(self) -> Path:
        return self.path.parent

    def routes(self) -> list[tuple[HttpRoute, FunctionSpec]]:
        return [(route, fn) for fn in self.functions.values() for route in fn.routes]

    def layer_paths(self) -> list[Path]:
        seen: list[Path] = []
        for fn in self.functions.values():
            for layer in fn.layers:
                if layer not in seen:
                    seen.append(layer)
        return seen


# -- resolution -------------------------------------------------------------------------------------

_SUB_RE = re.compile(r"\$\{([^}!][^}]*)\}")


@dataclass
class Resolver:
    """Resolves intrinsics with parameter defaults and local values for resources."""

    parameters: Mapping[str, Any]
    refs: Mapping[str, str] = field(default_factory=dict)  # logical id -> physical value (Ref)
    attrs: Mapping[str, str] = field(default_factory=dict)  # "Logical.Attr" -> value (GetAtt)
    region: str = "us-east-1"
    account: str = "123456789012"
    conditions: Mapping[str, Any] = field(default_factory=dict)  # raw Conditions section
    mappings: Mapping[str, Any] = field(default_factory=dict)  # raw Mappings section

    def condition(self, name: str, _seen: tuple[str, ...] = ()) -> bool:
        """A named condition, evaluated with parameter defaults."""
        if name in _seen:
            raise TemplateError(f"condition {name} refers to itself")
        if name not in self.conditions:
            raise TemplateError(f"unknown condition {name!r}")
        return self._truth(self.conditions[name], (*_seen, name))

    def _truth(self, value: Any, seen: tuple[str, ...]) -> bool:
        if isinstance(value, Intrinsic):
            args = value.value
            if value.name == "Equals":
                left, right = (self.resolve(v) for v in args)
                return str(left) == str(right)
            if value.name == "Not":
                return not self._truth(args[0] if isinstance(args, list) else args, seen)
            if value.name == "And":
                return all(self._truth(v, seen) for v in args)
            if value.name == "Or":
                return any(self._truth(v, seen) for v in args)
            if value.name == "Condition":
                return self.condition(str(args), seen)
        if isinstance(value, bool):
            return value
        raise TemplateError(f"cannot evaluate the condition {value!r}")

    def pseudo(self, name: str) -> str | None:
        return {
            "AWS::Region": self.region,
            "AWS::AccountId": self.account,
            "AWS::StackName": "testgenie-local",
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NoValue": None,
        }.get(name, f"local-{name}")

    def ref(self, name: str) -> Any:
        if name.startswith("AWS::"):
            return self.pseudo(name)
        if name in self.parameters:
            return self.parameters[name]
        if name in self.refs:
            return self.refs[name]
        return name

    def getatt(self, logical: str, attr: str) -> str:
        key = f"{logical}.{attr}"
        if key in self.attrs:
            return self.attrs[key]
        return f"arn:aws:local:{self.region}:{self.account}:{logical}"

    def resolve(self, value: Any) -> Any:
        if isinstance(value, Intrinsic):
            return self._intrinsic(value)
        if isinstance(value, dict):
            return {k: self.resolve(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        return value

    def _intrinsic(self, item: Intrinsic) -> Any:
        name, value = item.name, item.value
        if name == "Ref":
            return self.ref(str(self.resolve(value)))
        if name == "GetAtt":
            parts = self.resolve(value)
            if isinstance(parts, list) and len(parts) == 2:
                return self.getatt(str(parts[0]), str(parts[1]))
            raise TemplateError(f"cannot read !GetAtt {value!r}")
        if name == "Sub":
            if isinstance(value, list):
                text, variables = value[0], self.resolve(value[1]) if len(value) > 1 else {}
            else:
                text, variables = value, {}
            return self._sub(str(text), variables)
        if name == "Join":
            sep, items = value
            return str(self.resolve(sep)).join(str(v) for v in self.resolve(items))
        if name == "Select":
            index, items = self.resolve(value)
            return items[int(index)]
        if name == "Split":
            sep, text = self.resolve(value)
            return str(text).split(str(sep))
        if name == "If":
            cond, when_true, when_false = value
            return self.resolve(when_true if self.condition(str(cond)) else when_false)
        if name == "Base64":
            return self.resolve(value)
        if name == "FindInMap":
            return self._find_in_map(self.resolve(value))
        raise TemplateError(f"the local stack cannot resolve Fn::{name}")

    def _find_in_map(self, args: Any) -> Any:
        if not isinstance(args, list) or len(args) != 3:
            raise TemplateError(f"!FindInMap needs [map, key, key], got {args!r}")
        table, top, second = (str(a) for a in args)
        try:
            return self.resolve(self.mappings[table][top][second])
        except (KeyError, TypeError):
            raise TemplateError(f"!FindInMap: no {table}.{top}.{second} in Mappings") from None

    def _sub(self, text: str, variables: Mapping[str, Any]) -> str:
        def replace(match: re.Match[str]) -> str:
            key = match.group(1)
            if key in variables:
                return str(variables[key])
            if "." in key:
                logical, attr = key.split(".", 1)
                return self.getatt(logical, attr)
            return str(self.ref(key))

        return _SUB_RE.sub(replace, text).replace("${!", "${")


# -- reading ------------------------------------------------------------------------------------------


def find_template(start: Path | None = None) -> Path:
    """template.yaml in `start` or a parent folder, else the one next to this package's checkout."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / "template.yaml"
        if candidate.is_file():
            return candidate
    packaged = Path(__file__).resolve().parents[2] / "template.yaml"
    if packaged.is_file():
        return packaged
    raise TemplateError("template.yaml not found (run from the project folder or pass --template)")


def read_template(path: Path) -> Template:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise TemplateError(f"cannot read {path}: {exc.strerror}") from None
    try:
        doc = load_yaml(text)
    except yaml.YAMLError as exc:
        raise TemplateError(f"{path} is not valid YAML: {exc}") from None
    resources = doc.get("Resources") or {}
    if not isinstance(resources, dict):
        raise TemplateError("Resources must be a mapping")
    parameters = {
        name: spec.get("Default")
        for name, spec in (doc.get("Parameters") or {}).items()
        if isinstance(spec, dict)
    }
    conditions = doc.get("Conditions") or {}
    mappings = doc.get("Mappings") or {}
    resolver = Resolver(
        parameters,
        conditions=conditions if isinstance(conditions, dict) else {},
        mappings=mappings if isinstance(mappings, dict) else {},
    )
    root = path.parent.resolve()
    globals_fn = (doc.get("Globals") or {}).get("Function") or {}

    queues, buckets, functions = _resources(resources, globals_fn, resolver, root)
    for fn in functions.values():
        for source in fn.sqs_sources:
            if source.queue not in queues:
                raise TemplateError(f"{fn.logical_id}.{source.event_name}: unknown queue {source.queue!r}")
    return Template(
        path.resolve(),
        functions,
        queues,
        buckets,
        parameters,
        resources,
        dict(resolver.conditions),
        dict(resolver.mappings),
    )


def _resources(
    resources: Mapping[str, Any], globals_fn: Mapping[str, Any], resolver: Resolver, root: Path
) -> tuple[dict[str, QueueSpec], dict[str, BucketSpec], dict[str, FunctionSpec]]:
    """The queues, buckets and (loadable) functions the template declares."""
    layers = {
        logical: root / str(resolver.resolve((res.get("Properties") or {}).get("ContentUri", ".")))
        for logical, res in resources.items()
        if isinstance(res, dict) and res.get("Type") == "AWS::Serverless::LayerVersion"
    }
    queues: dict[str, QueueSpec] = {}
    buckets: dict[str, BucketSpec] = {}
    functions: dict[str, FunctionSpec] = {}
    for logical, res in resources.items():
        if not isinstance(res, dict):
            continue
        kind = res.get("Type")
        props = res.get("Properties") or {}
        if kind == "AWS::SQS::Queue":
            queues[logical] = _queue(logical, props, resolver)
        elif kind == "AWS::S3::Bucket":
            name = resolver.resolve(props.get("BucketName"))
            buckets[logical] = BucketSpec(logical, _local_name(name, logical).lower())
    for logical, res in resources.items():
        if isinstance(res, dict) and res.get("Type") == "AWS::Serverless::Function":
            spec = _function(logical, res.get("Properties") or {}, globals_fn, resolver, root, layers)
            if spec is not None:
                functions[logical] = spec
    return queues, buckets, functions


def _local_name(value: Any, logical: str) -> str:
    if isinstance(value, str) and value and "local-AWS::" not in value and not value.startswith("None"):
        return value
    return logical


def _queue(logical: str, props: Mapping[str, Any], resolver: Resolver) -> QueueSpec:
    redrive = props.get("RedrivePolicy")
    dlq: str | None = None
    max_receive: int | None = None
    if isinstance(redrive, dict):
        target = redrive.get("deadLetterTargetArn")
        dlq = _logical_of(target)
        if dlq is None:
            raise TemplateError(
                f"{logical}: the local stack needs deadLetterTargetArn as !GetAtt <Queue>.Arn"
            )
        max_receive = int(resolver.resolve(redrive.get("maxReceiveCount", 10)))
    fifo = bool(resolver.resolve(props.get("FifoQueue", False)))
    name = _local_name(resolver.resolve(props.get("QueueName")), logical)
    if fifo and not name.endswith(".fifo"):
        name += ".fifo"
    retention = props.get("MessageRetentionPeriod")
    return QueueSpec(
        logical_id=logical,
        name=name,
        visibility_timeout_seconds=int(
            resolver.resolve(props.get("VisibilityTimeout", DEFAULT_VISIBILITY_TIMEOUT_SECONDS))
        ),
        message_retention_seconds=int(resolver.resolve(retention)) if retention is not None else None,
        dead_letter_queue=dlq,
        max_receive_count=max_receive,
        fifo=fifo,
    )


def _logical_of(value: Any) -> str | None:
    """The logical id a `!GetAtt X.Arn` or `!Ref X` points at."""
    if isinstance(value, Intrinsic):
        if value.name == "GetAtt" and isinstance(value.value, list):
            return str(value.value[0])
        if value.name == "Ref":
            return str(value.value)
        if value.name == "Sub" and isinstance(value.value, str):
            match = _SUB_RE.search(value.value)
            if match:
                return match.group(1).split(".", 1)[0]
    return None


def _function(
    logical: str,
    props: Mapping[str, Any],
    globals_fn: Mapping[str, Any],
    resolver: Resolver,
    root: Path,
    layers: Mapping[str, Path],
) -> FunctionSpec | None:
    merged: dict[str, Any] = {**globals_fn, **props}
    env = dict((globals_fn.get("Environment") or {}).get("Variables") or {})
    env.update((props.get("Environment") or {}).get("Variables") or {})
    handler = resolver.resolve(merged.get("Handler"))
    code_uri = resolver.resolve(merged.get("CodeUri"))
    if not isinstance(handler, str) or "." not in handler or not isinstance(code_uri, str):
        return None  # an inline or image function: nothing the local stack can load
    timeout = int(resolver.resolve(merged.get("Timeout", DEFAULT_TIMEOUT_SECONDS)))
    reserved = resolver.resolve(merged.get("ReservedConcurrentExecutions"))
    durable = resolver.resolve((props.get("DurableConfig") or {}).get("ExecutionTimeout"))
    # SAM: Globals' lists are additive (the global layers first), maps merge, scalars are replaced.
    all_layers = [*(globals_fn.get("Layers") or []), *(props.get("Layers") or [])]
    layer_names = list(dict.fromkeys(_logical_of(item) for item in all_layers))
    layer_paths = [layers[name] for name in layer_names if name is not None and name in layers]
    routes: list[HttpRoute] = []
    sqs: list[SqsSource] = []
    schedules: list[Schedule] = []
    for event_name, event in (props.get("Events") or {}).items():
        if not isinstance(event, dict):
            continue
        kind = event.get("Type")
        eprops = event.get("Properties") or {}
        if kind == "HttpApi":
            routes.append(_http_route(event_name, eprops, resolver))
        elif kind == "SQS":
            sqs.append(_sqs_source(f"{logical}.{event_name}", event_name, eprops, resolver))
        elif kind in {"ScheduleV2", "Schedule"}:
            schedules.append(_schedule(f"{logical}.{event_name}", event_name, eprops, resolver))
    return FunctionSpec(
        logical_id=logical,
        code_uri=(root / code_uri).resolve(),
        handler=handler,
        timeout_seconds=timeout,
        environment=env,
        routes=routes,
        sqs_sources=sqs,
        schedules=schedules,
        layers=[p.resolve() for p in layer_paths],
        reserved_concurrency=int(reserved) if reserved is not None else None,
        durable_execution_timeout=int(durable) if durable is not None else None,
        tenant_isolation=_tenant_isolation(props.get("TenancyConfig")),
    )


def _tenant_isolation(config: Any) -> str | None:
    mode = config.get("TenantIsolationMode") if isinstance(config, dict) else None
    return str(mode) if mode else None


def _http_route(event_name: str, eprops: Mapping[str, Any], resolver: Resolver) -> HttpRoute:
    path = str(resolver.resolve(eprops.get("Path", "$default")))
    method = str(resolver.resolve(eprops.get("Method", "ANY"))).upper()
    return HttpRoute("ANY" if method in {"*", "X-AMAZON-APIGATEWAY-ANY-METHOD"} else method, path, event_name)


def _sqs_source(where: str, event_name: str, eprops: Mapping[str, Any], resolver: Resolver) -> SqsSource:
    queue = _logical_of(eprops.get("Queue"))
    if queue is None:
        raise TemplateError(f"{where}: the queue must be !GetAtt <Queue>.Arn")
    scaling = eprops.get("ScalingConfig") or {}
    max_conc = resolver.resolve(scaling.get("MaximumConcurrency"))
    return SqsSource(
        event_name=event_name,
        queue=queue,
        batch_size=int(resolver.resolve(eprops.get("BatchSize", 10))),
        batching_window_seconds=int(resolver.resolve(eprops.get("MaximumBatchingWindowInSeconds", 0))),
        report_batch_item_failures="ReportBatchItemFailures"
        in (resolver.resolve(eprops.get("FunctionResponseTypes")) or []),
        maximum_concurrency=int(max_conc) if max_conc is not None else None,
        enabled=_truthy(resolver.resolve(eprops.get("Enabled", True))),
    )


def _schedule(where: str, event_name: str, eprops: Mapping[str, Any], resolver: Resolver) -> Schedule:
    state = resolver.resolve(eprops.get("State", "ENABLED"))
    enabled = _truthy(resolver.resolve(eprops.get("Enabled", True))) and str(state).upper() != "DISABLED"
    return Schedule(
        event_name=event_name,
        expression=str(resolver.resolve(eprops.get("ScheduleExpression", ""))),
        input=_parse_input(resolver.resolve(eprops.get("Input")), where),
        enabled=enabled,
    )


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() not in {"false", "0", "no", "disabled"}
    return bool(value)


def _parse_input(raw: Any, where: str) -> Any:
    if raw is None:
        return None
    if isinstance(raw, str):
        try:
            return json.loads(raw)
        except json.JSONDecodeError as exc:
            raise TemplateError(f"{where}: Input is not JSON: {exc}") from None
    return raw
