"""Phase selection (reference §2.5-2.6, with the §8 fixes): explicit phases > preset > all phases.

Pure functions over the catalog and a parsed TestingConfig, so the rules can be tested as a table
and the plan can be built cheaply before a suite request is claimed.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from testgenie.errors import ValidationError
from testgenie.orchestrator.models import DEFAULT_MAX_SHARDS, PhasePlan, ShardsSetting, SuitePlan
from testgenie.orchestrator.planning.catalog import (
    CATALOG,
    DEFAULT_PHASE_TIMEOUT_SECONDS,
    DEFAULT_PRESETS,
    PHASE_NAME_RE,
    PHASES_BY_NAME,
    SCENARIO_NAME_RE,
    SCENARIO_NAME_REQUIRED,
    SCENARIO_NAME_RULE,
    PhaseSpec,
    custom_phase_spec,
    normalize_name,
)
from testgenie.orchestrator.planning.testing_config import CONFIG_RELPATH, TestingConfig
from testgenie.suggest import did_you_mean

CUSTOM_PHASES_DIR = ".testgenie/phases"


def validate_scenario_name(raw: str) -> str:
    name = raw.strip()
    if not name:
        raise ValidationError(SCENARIO_NAME_REQUIRED)
    if not SCENARIO_NAME_RE.match(name):
        raise ValidationError(f"scenarioName {SCENARIO_NAME_RULE}")
    return name


def discover_phase_scripts(scenario_dir: Path) -> dict[str, Path]:
    """`.testgenie/phases/test-<name>.sh` -> {name: path} (names normalised, sorted)."""
    folder = scenario_dir / CUSTOM_PHASES_DIR
    if not folder.is_dir():
        return {}
    scripts: dict[str, Path] = {}
    for path in sorted(folder.glob("test-*.sh")):
        if path.is_file():
            scripts[normalize_name(path.name[len("test-") : -len(".sh")])] = path
    return scripts


@dataclass
class ScenarioPhases:
    """Every phase a scenario can run, in run order, and its presets."""

    specs: dict[str, PhaseSpec]
    presets: dict[str, list[str]]
    scripts: dict[str, str] = field(default_factory=dict)  # custom phase -> script path (relative)
    warnings: list[str] = field(default_factory=list)


def scenario_phases(
    config: TestingConfig,
    script_names: Iterable[str] = (),
    default_timeout: int = DEFAULT_PHASE_TIMEOUT_SECONDS,
) -> ScenarioPhases:
    warnings: list[str] = config.warnings  # keys of testing.json no setting has
    specs: dict[str, PhaseSpec] = {spec.name: spec for spec in CATALOG}
    custom: dict[str, PhaseSpec] = {}
    scripts: dict[str, str] = {}
    for name in script_names:
        script = f"{CUSTOM_PHASES_DIR}/test-{name}.sh"
        if name in PHASES_BY_NAME:
            warnings.append(f"{script} was ignored: '{name}' is a catalog phase")
        elif not PHASE_NAME_RE.match(name):
            warnings.append(f"{script} was ignored: '{name}' is not a valid phase name")
        else:
            custom[name] = custom_phase_spec(name, default_timeout)
            scripts[name] = script
    for name, phase_config in config.phases.custom().items():
        if name not in custom:
            if not phase_config.commands:
                raise ValidationError(
                    f"invalid {CONFIG_RELPATH}: phases.{name}: '{name}' is not a catalog phase, so it needs "
                    f"commands or a script {CUSTOM_PHASES_DIR}/test-{name}.sh"
                )
            custom[name] = custom_phase_spec(name, default_timeout)
    specs.update(sorted(custom.items()))

    presets = {name: list(phases) for name, phases in DEFAULT_PRESETS.items()}
    for preset, phases in config.presets.items():
        for index, phase in enumerate(phases):
            if phase not in specs:
                raise ValidationError(
                    f"invalid {CONFIG_RELPATH}: presets.{preset}[{index}]: phase '{phase}' is not defined"
                )
        presets[preset] = list(dict.fromkeys(phases))  # de-duplicated, order kept
    return ScenarioPhases(specs=specs, presets=presets, scripts=scripts, warnings=warnings)


def phase_timeout(name: str, phases: ScenarioPhases, config: TestingConfig, default_timeout: int) -> int:
    phase_config = config.phases.get(name)
    if phase_config is not None and phase_config.timeout:
        return phase_config.timeout
    return phases.specs[name].timeout(default_timeout)


def is_enabled(name: str, config: TestingConfig) -> bool:
    phase_config = config.phases.get(name)
    return phase_config is None or phase_config.enabled


def _known(names: Iterable[str]) -> str:
    return ", ".join(sorted(names))


def _not_defined(kind: str, raw: str, known: Collection[str]) -> ValidationError:
    """`phase 'unti' is not defined; did you mean 'unit'? (known: …)`."""
    hint = did_you_mean(normalize_name(raw), known)
    return ValidationError(f"{kind} '{raw}' is not defined{hint} (known: {_known(known)})")


def _skipped(raw_names: list[str], known: Iterable[str], warnings: list[str]) -> set[str]:
    """The normalized names to skip; a name no phase has is warned about once and ignored."""
    specs = set(known)
    skip: set[str] = set()
    for raw in raw_names:
        name = normalize_name(raw)
        if not name:
            continue
        if name not in specs and name not in skip:
            warnings.append(f"skip: phase '{raw}' is not defined; ignored")
        skip.add(name)
    return skip


def build_plan(
    request: SuitePlan,
    config: TestingConfig,
    script_names: Iterable[str] = (),
    default_timeout: int = DEFAULT_PHASE_TIMEOUT_SECONDS,
    max_shards: int = DEFAULT_MAX_SHARDS,
) -> PhasePlan:
    scenario = validate_scenario_name(request.scenario_name)
    phases = scenario_phases(config, script_names, default_timeout)
    warnings = list(phases.warnings)
    chosen_preset: str | None = None
    explicit = [p for p in (request.phases or []) if p.strip()]

    if explicit:
        desired: list[str] = []
        repeated: list[str] = []  # one warning per repeated name, however many copies
        for raw in explicit:
            name = normalize_name(raw)
            if name not in phases.specs:
                raise _not_defined("phase", raw, phases.specs)
            if name not in desired:
                desired.append(name)
            elif name not in repeated:
                repeated.append(name)
        warnings.extend(f"phase '{name}' was requested more than once; it runs once" for name in repeated)
        if request.preset and request.preset.strip():
            warnings.append(f"preset '{request.preset}' was ignored because phases were given explicitly")
        for name in desired:
            if not is_enabled(name, config):
                warnings.append(
                    f"phase '{name}' is disabled in {CONFIG_RELPATH} and will be skipped although requested"
                )
    elif request.preset and request.preset.strip():
        chosen_preset = normalize_name(request.preset)
        if chosen_preset not in phases.presets:
            raise _not_defined("preset", request.preset, phases.presets)
        desired = list(phases.presets[chosen_preset])
    else:
        desired = list(phases.specs)

    skip = _skipped(request.skip or [], phases.specs, warnings)
    selected = [name for name in desired if name not in skip]
    if not selected:
        raise ValidationError("no phases selected for execution")

    return PhasePlan(
        scenario_name=scenario,
        preset=chosen_preset,
        phases=selected,
        timeouts={name: phase_timeout(name, phases, config, default_timeout) for name in selected},
        fail_fast=request.fail_fast,
        warnings=warnings,
        shards=phase_shards(selected, config, request.shards, max_shards, warnings),
    )


def phase_shards(
    selected: list[str],
    config: TestingConfig,
    requested: ShardsSetting | None,
    max_shards: int,
    warnings: list[str],
) -> dict[str, ShardsSetting]:
    """The phases that run as several shards. A request's `shards` overrides the phases testing.json
    shards, else applies to `unit`; above MaxShards it is refused, a testing.json value is capped."""
    if isinstance(requested, int) and not 1 <= requested <= max_shards:
        raise ValidationError(f"shards must be between 1 and {max_shards} (MaxShards), not {requested}")
    wanted: dict[str, ShardsSetting] = {}
    for name in selected:
        phase_config = config.phases.get(name)
        if phase_config is not None and phase_config.shards is not None:
            wanted[name] = phase_config.shards
    if requested is not None:
        targets = list(wanted) or (["unit"] if "unit" in selected else [])
        if not targets:
            warnings.append(
                f"shards: no planned phase sets shards in {CONFIG_RELPATH} and unit is not planned"
            )
        wanted = dict.fromkeys(targets, requested)
    resolved: dict[str, ShardsSetting] = {}
    for name, value in wanted.items():
        if isinstance(value, int) and value > max_shards:
            warnings.append(f"phase '{name}' asks for {value} shards; it runs {max_shards} (MaxShards)")
            value = max_shards
        if value != 1:
            resolved[name] = value
    return resolved
