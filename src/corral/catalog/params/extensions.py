"""corral extension: the ``corral`` object of an agent, selecting its harness extensions (``corral.extend``).

Shape (every part optional; the hosted API has no such field, the official SDK sends it with ``extra_body``)::

    {"extensions": {"context_strategy": {"name": "retrieval", "options": {...}},
                    "compaction_policy": {"name": "default"},
                    "model_router": {"name": "cost_aware", "options": {...}},
                    "tools": [{"name": "search_notes", "permission_policy": {"type": "always_allow"}}],
                    "observers": [{"name": "…"}]}}

Names are checked against what this deployment has installed where the agent is written (``catalog.extensions``);
options are the extension's own business and reach its factory as sent.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from corral.catalog.params.base import FreeJSON, Matches
from corral.wire import Strict

EXTENSION_NAME_MAX = 64
EXTENSION_TOOLS_MAX = 32
EXTENSION_OBSERVERS_MAX = 8

ExtensionName = Annotated[
    str,
    Field(min_length=1, max_length=EXTENSION_NAME_MAX),
    Matches(r"^[A-Za-z0-9_.-]+$", "{value} is not an extension name (letters, digits, _ . -)"),
]


class ExtensionRef(Strict):
    """An installed extension by its entry-point name, with the options its factory is called with."""

    name: ExtensionName
    options: dict[str, FreeJSON] | None = None


class ExtensionToolPolicy(Strict):
    type: Literal["always_allow", "always_ask"]


class ExtensionToolRef(ExtensionRef):
    """A server-side tool: run by the harness when allowed; ``always_ask`` (the default) waits for the client's
    ``user.tool_confirmation``, as an MCP tool does."""

    permission_policy: ExtensionToolPolicy | None = None


class ExtensionsParams(Strict):
    context_strategy: ExtensionRef | None = None
    compaction_policy: ExtensionRef | None = None
    model_router: ExtensionRef | None = None
    tools: Annotated[list[ExtensionToolRef], Field(max_length=EXTENSION_TOOLS_MAX)] | None = None
    observers: Annotated[list[ExtensionRef], Field(max_length=EXTENSION_OBSERVERS_MAX)] | None = None


class CorralAgentParams(Strict):
    """corral extension: what corral adds to an agent (its harness extensions); echoed as stored."""

    extensions: ExtensionsParams | None = None
