"""Who a runner environment belongs to: its tenant (docs/architecture.md, "Tenants").

RunnerFunction is multi-tenant (`TenancyConfig: PER_TENANT`): Lambda gives each TenantId execution
environments of its own, so an environment — its /tmp, its memory, anything a phase left running —
never serves two tenants. A tenant is one scenario: scenarios of the same team do not share either.
A team that trusts its scenarios with one another could widen it here (e.g. a prefix of the name),
trading isolation for warm starts.
"""

from __future__ import annotations

from testgenie.orchestrator.planning.plan import validate_scenario_name


def tenant_for(scenario_name: str) -> str:
    """The TenantId of every runner invocation of this scenario."""
    return validate_scenario_name(scenario_name)
