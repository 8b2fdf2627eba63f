"""`.testgenie/testing.json`: the scenario's own configuration of phases, presets and runners.

Every problem becomes a ValidationError naming the file and the field (a 400, never a 500). A key
no setting has is not an error (files written for other tools carry their own keys) but a warning
on every execution, naming the key and the closest known one, so a typo does not go unseen.
"""

from __future__ import annotations

import copy
import json
import re
import types
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    PrivateAttr,
    WithJsonSchema,
    model_validator,
)
from pydantic import ValidationError as PydanticValidationError
from pydantic.alias_generators import to_camel

from testgenie.errors import ValidationError
from testgenie.models_base import closest_hint, wire_names
from testgenie.orchestrator.planning.catalog import PHASE_NAME_RE, PHASE_NAMES, normalize_name

CONFIG_RELPATH = ".testgenie/testing.json"
MAX_CONFIG_SHARDS = 1000  # the deployment's MaxShards caps it further
MAX_TIMEOUT_SECONDS = 86_400
_DURATION_RE = re.compile(r"^\s*([0-9]+)\s*(s|m|h)?\s*$")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600}


def parse_timeout(value: object) -> int:
    """120, "120", "90s", "5m" or "1h" -> seconds (1 s .. 24 h)."""
    seconds: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        seconds = value
    elif isinstance(value, str) and (match := _DURATION_RE.match(value)):
        seconds = int(match.group(1)) * _UNIT_SECONDS[match.group(2) or ""]
    if seconds is None or not 1 <= seconds <= MAX_TIMEOUT_SECONDS:
        raise ValueError(
            f"unsupported timeout value {value!r}: use seconds (120) or a duration such as "
            f"'90s', '5m' or '1h', between 1 second and 24 hours"
        )
    return seconds


def _parse_command(value: object) -> str | tuple[str, ...]:
    if isinstance(value, str) and value.strip():
        return value
    if (
        isinstance(value, list)
        and value
        and all(isinstance(part, str) for part in value)
        and str(value[0]).strip()
    ):
        return tuple(value)
    raise ValueError("a command is a non-empty shell line or a non-empty array of arguments")


def _parse_relative_path(value: object) -> str:
    """A path or glob inside the scenario: relative, no '..', no drive, no NUL (else a 400)."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError("a path is a non-empty string")
    parts = value.replace("\\", "/").split("/")
    if value.startswith(("/", "\\", "~")) or ":" in parts[0] or "\x00" in value or ".." in parts:
        raise ValueError(f"'{value}' must be a path inside the scenario: relative to its root, without '..'")
    return value


# Every path and glob in testing.json stays inside the scenario's copy.
RelativePath = Annotated[
    str,
    PlainValidator(_parse_relative_path),
    WithJsonSchema(
        {
            "type": "string",
            "minLength": 1,
            "description": "Relative to the scenario's root; absolute paths and '..' are refused.",
            "not": {"pattern": "(^[/\\\\~])|(^[^/]*:)|((^|[/\\\\])\\.\\.([/\\\\]|$))"},
        }
    ),
]
TimeoutSeconds = Annotated[
    int,
    PlainValidator(parse_timeout),
    WithJsonSchema(
        {
            "description": "Seconds (120) or a duration: '90s', '5m', '1h'.",
            "oneOf": [
                {"type": "integer", "minimum": 1, "maximum": MAX_TIMEOUT_SECONDS},
                {"type": "string", "pattern": "^\\s*[0-9]+\\s*(s|m|h)?\\s*$"},
            ],
        }
    ),
]
# A string runs through /bin/sh -c; an array runs as argv without a shell.
Command = Annotated[
    str | tuple[str, ...],
    PlainValidator(_parse_command),
    WithJsonSchema(
        {
            "description": "A shell line (run with /bin/sh -c) or an argv array (run without a shell).",
            "oneOf": [
                {"type": "string", "minLength": 1},
                {"type": "array", "items": {"type": "string"}, "minItems": 1},
            ],
        }
    ),
]
HttpMethod = Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


class ConfigModel(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", strict=True, frozen=True
    )


class HttpCheck(ConfigModel):
    """One HTTP request and what its answer must look like."""

    name: str | None = None
    method: HttpMethod = "GET"
    url: str = Field(min_length=1, description="Absolute, or relative to baseUrl; ${VAR} is expanded.")
    headers: dict[str, str] = Field(default_factory=dict)
    body: str | None = None
    status: int = Field(default=200, ge=100, le=599)
    body_contains: str | None = None
    max_ms: int | None = Field(default=None, ge=1)


class Probe(ConfigModel):
    """A small load test: `requests` requests, `concurrency` at a time; p95 must stay under p95Ms."""

    name: str | None = None
    method: HttpMethod = "GET"
    url: str = Field(min_length=1)
    headers: dict[str, str] = Field(default_factory=dict)
    requests: int = Field(default=20, ge=1, le=10_000)
    concurrency: int = Field(default=4, ge=1, le=64)
    status: int = Field(default=200, ge=100, le=599)
    p95_ms: int = Field(ge=1)


class PhaseConfig(ConfigModel):
    """Settings every phase understands."""

    enabled: bool = True
    timeout: TimeoutSeconds | None = None
    commands: list[Command] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)
    junit: list[RelativePath] = Field(
        default_factory=list,
        description="Globs (relative to the scenario) of JUnit XML files the commands write, besides "
        "$TESTGENIE_REPORTS_DIR/*.xml.",
    )
    shards: Annotated[int, Field(ge=1, le=MAX_CONFIG_SHARDS)] | Literal["auto"] | None = Field(
        default=None,
        description="Run the phase as this many runner invocations at once, or 'auto' (enough for each "
        "to take about SHARD_TARGET_SECONDS, from earlier runs' test durations). A detected pytest "
        "phase is split by test id; commands get TESTGENIE_SHARD_INDEX and TESTGENIE_SHARD_COUNT. "
        "At most the deployment's MaxShards.",
    )


class StructureConfig(PhaseConfig):
    required_paths: list[RelativePath] = Field(default_factory=list)


class DependenciesConfig(PhaseConfig):
    required_commands: list[str] = Field(default_factory=list)
    required_env: list[str] = Field(default_factory=list)
    endpoints: list[HttpCheck] = Field(default_factory=list)


class DocsConfig(PhaseConfig):
    paths: list[RelativePath] = Field(default_factory=lambda: ["**/*.md"])
    exclude: list[RelativePath] = Field(default_factory=list)


class HttpChecksConfig(PhaseConfig):
    checks: list[HttpCheck] = Field(default_factory=list)


class UnitConfig(PhaseConfig):
    detect: bool = Field(default=True, description="Detect pytest / go test / npm test when no commands.")


class PlaybooksConfig(PhaseConfig):
    dir: RelativePath = "playbooks"


class BusinessConfig(PhaseConfig):
    dir: RelativePath = "requirements"


class PerformanceConfig(PhaseConfig):
    probes: list[Probe] = Field(default_factory=list)


class PhasesConfig(ConfigModel):
    """Per-phase settings; any other key is a custom phase (it needs commands or a script)."""

    model_config = ConfigDict(extra="allow")
    __pydantic_extra__: dict[str, PhaseConfig] = Field(init=False)

    structure: StructureConfig = Field(default_factory=StructureConfig)
    standards: PhaseConfig = Field(default_factory=PhaseConfig)
    dependencies: DependenciesConfig = Field(default_factory=DependenciesConfig)
    lint: PhaseConfig = Field(default_factory=PhaseConfig)
    docs: DocsConfig = Field(default_factory=DocsConfig)
    smoke: HttpChecksConfig = Field(default_factory=HttpChecksConfig)
    unit: UnitConfig = Field(default_factory=UnitConfig)
    integration: HttpChecksConfig = Field(default_factory=HttpChecksConfig)
    playbooks: PlaybooksConfig = Field(default_factory=PlaybooksConfig)
    business: BusinessConfig = Field(default_factory=BusinessConfig)
    performance: PerformanceConfig = Field(default_factory=PerformanceConfig)

    @model_validator(mode="before")
    @classmethod
    def _normalise_names(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        normalised: dict[str, Any] = {}
        for raw, value in data.items():
            name = normalize_name(str(raw))
            if name in normalised:
                raise ValueError(f"phase '{name}' is configured twice (names are case-insensitive)")
            if not PHASE_NAME_RE.match(name):
                raise ValueError(f"'{raw}' is not a valid phase name (letters, digits, '-', '_')")
            normalised[name] = value
        return normalised

    def get(self, name: str) -> PhaseConfig | None:
        if name in PHASE_NAMES:
            config: PhaseConfig = getattr(self, name)
            return config
        return (self.__pydantic_extra__ or {}).get(name)

    def custom(self) -> dict[str, PhaseConfig]:
        return dict(self.__pydantic_extra__ or {})


class PythonConfig(ConfigModel):
    """A Python scenario's own test dependencies, beyond the runner's toolchain."""

    requirements: RelativePath | None = Field(
        default=None,
        description="A pip requirements file (relative to the scenario) listing what the tests import "
        "beyond the runner's toolchain; `testgenie push` resolves it for the runner's platform and "
        "vendors the packages into the bundle (.testgenie/vendor/python, first on PYTHONPATH).",
    )


PresetPhases = Annotated[list[Annotated[str, Field(min_length=1)]], Field(min_length=1)]


class TestingConfig(ConfigModel):
    """The whole `.testgenie/testing.json`."""

    __test__ = False  # not a pytest test class
    model_config = ConfigDict(
        title="Test Genie scenario configuration (.testgenie/testing.json)",
        json_schema_extra={"$schema": "https://json-schema.org/draft/2020-12/schema"},
    )

    schema_ref: str | None = Field(default=None, alias="$schema")
    # Keys of the file no setting has, dropped before validation (see parse_testing_config).
    _unknown_keys: list[str] = PrivateAttr(default_factory=list)
    base_url: str | None = Field(default=None, description="Base of relative URLs; ${VAR} is expanded.")
    env: dict[str, str] = Field(default_factory=dict, description="Variables for every command.")
    phases: PhasesConfig = Field(default_factory=PhasesConfig)
    python: PythonConfig = Field(default_factory=PythonConfig)
    presets: dict[str, PresetPhases] = Field(
        default_factory=dict, description="Named phase lists; they replace built-in presets of that name."
    )

    @model_validator(mode="after")
    def _normalise_presets(self) -> TestingConfig:
        normalised: dict[str, list[str]] = {}
        for raw, phases in self.presets.items():
            name = normalize_name(raw)
            if not name or name in normalised:
                raise ValueError(f"preset '{raw}' is empty or defined twice (names are case-insensitive)")
            normalised[name] = [normalize_name(p) for p in phases]
        object.__setattr__(self, "presets", normalised)
        return self

    @property
    def warnings(self) -> list[str]:
        """One warning per key of the file that no setting has (each execution reports them)."""
        return list(self._unknown_keys)


def _field_path(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += ("." if path else "") + str(part)
    return path or "(top level)"


def _model_at(loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    """The settings model a location of testing.json lands in (None: a free-form map or a value)."""
    annotation: Any = TestingConfig
    for part in loc:
        annotation = _unwrap(annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            fields = {info.alias or name: info for name, info in annotation.model_fields.items()}
            fields.update(annotation.model_fields)
            if str(part) in fields:
                annotation = fields[str(part)].annotation
            elif annotation is PhasesConfig:
                annotation = PhaseConfig  # any other key under phases is a custom phase
            else:
                return None
        elif get_origin(annotation) in (list, tuple, dict):
            annotation = get_args(annotation)[-1] if get_args(annotation) else None
        else:
            return None
    annotation = _unwrap(annotation)
    return annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None


def _unwrap(annotation: Any) -> Any:
    """X from Annotated[X, ...] and from X | None."""
    while True:
        if get_origin(annotation) is Annotated:
            annotation = get_args(annotation)[0]
        elif get_origin(annotation) in (Union, types.UnionType):
            options = [arg for arg in get_args(annotation) if arg is not type(None)]
            if len(options) != 1:
                return annotation
            annotation = options[0]
        else:
            return annotation


def _drop(data: dict[str, Any], loc: tuple[int | str, ...]) -> None:
    node: Any = data
    for part in loc[:-1]:
        node = node[part]
    node.pop(loc[-1], None)


def _problems(exc: PydanticValidationError) -> str:
    problems = []
    for err in exc.errors(include_url=False):
        message = str(err["msg"]).removeprefix("Value error, ")
        problems.append(f"{_field_path(err['loc'])}: {message}")
    return "; ".join(problems)


def parse_testing_config(text: str, source: str = CONFIG_RELPATH) -> TestingConfig:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationError(
            f"invalid {source}: not valid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None
    if not isinstance(data, dict):
        raise ValidationError(f"invalid {source}: (top level): must be a JSON object")
    try:
        return TestingConfig.model_validate(data)
    except PydanticValidationError as exc:
        unknown = [tuple(err["loc"]) for err in exc.errors() if err["type"] == "extra_forbidden"]
        if not unknown:
            raise ValidationError(f"invalid {source}: {_problems(exc)}") from None
    # Keys no setting has are dropped and reported; whatever else is wrong is still an error.
    data = copy.deepcopy(data)
    warnings: list[str] = []
    for loc in unknown:
        _drop(data, loc)
        model = _model_at(loc[:-1])
        hint = closest_hint(str(loc[-1]), wire_names(model) if model is not None else [], "keys")
        warnings.append(f"{source}: unknown key '{_field_path(loc)[:200]}' was ignored ({hint})")
    try:
        config = TestingConfig.model_validate(data)
    except PydanticValidationError as exc:
        raise ValidationError(f"invalid {source}: {_problems(exc)}") from None
    config._unknown_keys.extend(warnings)
    return config


def load_testing_config(scenario_dir: Path) -> TestingConfig:
    """The scenario's config; a scenario without the file gets every default."""
    path = scenario_dir / CONFIG_RELPATH
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return TestingConfig()
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationError(f"invalid {CONFIG_RELPATH}: cannot be read: {exc}") from None
    return parse_testing_config(text)


def schema_of_testing_json() -> dict[str, Any]:
    """The JSON Schema published as docs/testing.schema.json (a test keeps them equal)."""
    return TestingConfig.model_json_schema(by_alias=True, mode="validation")
