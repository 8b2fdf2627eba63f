"""MaxShards: a template parameter both coordinators read (MAX_SHARDS), 16 unless overridden."""

from __future__ import annotations

import yaml
from testgenie.settings import Settings
from testgenie_local.template import Resolver, read_template

from tests.support.paths import TEMPLATE


class _Loader(yaml.SafeLoader):
    """CloudFormation's short tags (!Ref, !Sub …) read as plain values: only Parameters matter here."""


_Loader.add_multi_constructor("!", lambda loader, suffix, node: None)


def test_max_shards_is_a_bounded_parameter_every_coordinator_reads() -> None:
    raw = yaml.load(TEMPLATE.read_text(), Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    parameter = raw["Parameters"]["MaxShards"]
    assert (parameter["Default"], parameter["MinValue"], parameter["MaxValue"]) == (16, 1, 100)
    template = read_template(TEMPLATE)
    resolver = Resolver(template.parameters, conditions=template.conditions, mappings=template.mappings)
    for name in ("ExecuteFunction", "CoordinatorFunction"):
        assert resolver.resolve(template.functions[name].environment["MAX_SHARDS"]) == 16, name
    assert "MAX_SHARDS" not in template.functions["RunnerFunction"].environment  # the runner never splits
    assert Settings.model_fields["max_shards"].default == 16
