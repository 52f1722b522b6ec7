"""The catalog's typed inputs: request bodies as a client sends them, validated once, at the API edge.

``corral.api`` declares these models as its request bodies (so ``/openapi.json`` documents them); the catalog's
verbs take them, never untyped mappings. Parsing enforces every rule that one value decides; the catalog keeps
only what a schema cannot say: rules across fields, operator-configured limits and merging with the stored form.
"""

from corral.catalog.params.agents import (
    AgentCreate,
    AgentRef,
    AgentUpdate,
    AgentWithOverrides,
    ModelParam,
    SessionAgent,
    SessionAgentUpdate,
)
from corral.catalog.params.base import WHOLE, FreeJSON, Open
from corral.catalog.params.environments import ConfigParams, EnvironmentCreate, EnvironmentUpdate
from corral.catalog.params.tools import MCPServerParams, MCPServers, ToolParam
from corral.wire import Metadata, MetadataPatch, Strict

__all__ = [
    "WHOLE",
    "AgentCreate",
    "AgentRef",
    "AgentUpdate",
    "AgentWithOverrides",
    "ConfigParams",
    "EnvironmentCreate",
    "EnvironmentUpdate",
    "FreeJSON",
    "MCPServerParams",
    "MCPServers",
    "Metadata",
    "MetadataPatch",
    "ModelParam",
    "Open",
    "SessionAgent",
    "SessionAgentUpdate",
    "Strict",
    "ToolParam",
]
