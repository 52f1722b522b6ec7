"""The catalog: workspaces and API keys, versioned agents, and environments.

Public surface: ``Catalog`` (verbs ``create_agent``, ``get_agent``, ``update_agent``, ``archive_agent``,
``list_agents``, ``list_agent_versions``, ``session_agent``, ``create_environment`` … ``delete_environment``,
``authenticate``, ``create_key``), the records ``AgentRecord`` / ``EnvironmentRecord`` / ``Principal``, and
``CatalogLimits``; its typed inputs are in ``corral.catalog.params``. Independent of ``session`` and ``sandbox``;
imports only ``db`` and the leaves.
"""

from corral.catalog.agents import AgentFilter
from corral.catalog.keys import DEFAULT_WORKSPACE_ID, KEY_PREFIX
from corral.catalog.limits import CatalogLimits
from corral.catalog.records import AgentRecord, EnvironmentRecord, Principal
from corral.catalog.store import Catalog
from corral.catalog.tools import BUILTIN_TOOLS

__all__ = [
    "BUILTIN_TOOLS",
    "DEFAULT_WORKSPACE_ID",
    "KEY_PREFIX",
    "AgentFilter",
    "AgentRecord",
    "Catalog",
    "CatalogLimits",
    "EnvironmentRecord",
    "Principal",
]
