"""The documented size limits of catalog objects (api.md §1.5, §3.2, §19), in one place.

The request models (``corral.catalog.params``) check the fixed limits, so ``/openapi.json`` states exactly
what is enforced; ``CatalogLimits`` holds those an operator may change, which the catalog checks.
"""

from __future__ import annotations

from dataclasses import dataclass

NAME_MAX = 256
SYSTEM_MAX = 100_000
DESCRIPTION_MAX = 2048
MODEL_ID_MAX = 256
INFERENCE_GEO_MAX = 64
MCP_SERVERS_MAX = 20
MCP_NAME_MAX = 255
URL_MAX = 2048
TOOL_NAME_MAX = 128
TOOL_DESCRIPTION_MAX = 4096
DOMAINS_MAX = 64
URL_SOURCE_TOOLS_MAX = 128
USER_LOCATION_FIELD_MAX = 256
ROLE_ARN_MAX = 2048
ENV_NAME_MAX = 256
ALLOWED_HOSTS_MAX = 256
HOST_MAX = 253
PACKAGES_MAX = 256
PACKAGE_SPEC_MAX = 256
WARM_POOL_MAX = 32
SESSION_TITLE_MAX = 512
INITIAL_EVENTS_MAX = 50
DEFAULT_TOOLS_MAX = 128
SKILLS_MAX = 20
SKILL_ID_MAX = 256
ROSTER_MAX = 20  # agents a coordinator may spawn (api.md §9, §17)


@dataclass(frozen=True)
class CatalogLimits:
    """What the operator configured that the catalog checks (``Settings``): limits, and what this deployment can
    run (the model providers it knows, whether it has a web search backend)."""

    max_tools: int = DEFAULT_TOOLS_MAX
    providers: frozenset[str] = frozenset({"anthropic", "openai"})
    web_search: bool = False
