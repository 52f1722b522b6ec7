"""Harness workers in the composition root: the sandbox provider they use and the ``Runtime`` that drives sessions.

``open_workers`` returns None when ``Settings.workers`` is 0 (an API-only process). Otherwise it opens the sandbox
provider named by ``Settings.sandbox_provider`` on ``stack`` (so it closes after the workers stop), handing it the
``WorkspaceStore`` (``follow_workspaces``: sessions' workspaces follow them to any worker), and builds a ``Runtime``
reading environment configs from the catalog, with the server-side tools and the MCP client (whose tokens come from
the sessions' vaults, ``mcp_credentials``). The caller starts ``runtime.run`` in its task group, and
``keep_pools_warm`` beside it when there is a sandbox provider. A provider that cannot start on this machine (not
root, no bubblewrap …) is logged and the workers run without sandboxes: sandbox tool calls then come back as error
results the model can read."""

from __future__ import annotations

import logging
from contextlib import AsyncExitStack

from corral._types import JSONObject, json_object
from corral.catalog import Catalog
from corral.compose.attachments import Stores, session_attachments
from corral.compose.credentials import session_secrets
from corral.config import Settings
from corral.egress.client import EgressClient
from corral.egress.credentials import SecretSource
from corral.egress.mcp import NO_CREDENTIALS, McpCredentials, McpTools, VaultBearers
from corral.egress.process import address_guard, open_egress
from corral.egress.web_fetch import WebFetchTool
from corral.egress.web_search import SearXNG, WebSearchTool
from corral.errors import CorralError, NotFound
from corral.harness import Runtime, ToolExecutor
from corral.harness.threads import DelegationExecutor
from corral.sandbox import SandboxProvider
from corral.sandbox.attach import NO_ATTACHMENTS
from corral.sandbox.recipe import EnvironmentSource
from corral.sandbox.registry import create_provider
from corral.sandbox.workspaces import WorkspaceStore
from corral.session import SessionStore
from corral.vault import VaultStore

log = logging.getLogger("corral.workers")


def environment_source(catalog: Catalog) -> EnvironmentSource:
    async def config(workspace_id: str, environment_id: str) -> JSONObject | None:
        try:
            record = await catalog.get_environment(workspace_id, environment_id)
        except NotFound:
            return None
        found = json_object(record.doc.get("config"))
        return dict(found) if found is not None else None

    return config


async def open_sandbox(
    stack: AsyncExitStack,
    settings: Settings,
    secrets: SecretSource | None = None,
    workspaces: WorkspaceStore | None = None,
) -> tuple[SandboxProvider | None, EgressClient | None]:
    """The sandbox provider and the egress its sandboxes reach the network through (each None when there is
    none); ``secrets``: the sessions' credentials the egress injects (``compose.credentials``); ``workspaces``:
    where sessions' workspaces are saved so that they follow their session (None: they stay on this host)."""
    try:
        # sandboxes reach the network only through it; remote ones through their host's own
        remote = settings.sandbox_provider == "remote"
        egress = None if remote else await open_egress(stack, settings, secrets)
        provider = create_provider(settings, egress)
        if workspaces is not None:
            provider.follow_workspaces(workspaces)
        return await stack.enter_async_context(provider), egress
    except CorralError as exc:
        log.warning("sandbox provider %r unavailable, tools run without sandboxes: %s", settings.sandbox_provider, exc)
        return None, None


def server_tools(settings: Settings) -> list[ToolExecutor]:
    """The server-side tools (``corral.egress``: the harness never imports egress); ``web_search`` when a search
    backend is configured."""
    tools: list[ToolExecutor] = [WebFetchTool(address_guard(settings))]  # under the egress's address rule
    if settings.web_search_url:
        tools.append(WebSearchTool(SearXNG(settings.web_search_url)))
    return tools


def mcp_credentials(vaults: VaultStore | None) -> McpCredentials:
    """Where the tokens of MCP servers come from: the session's vaults, by server URL (api.md §11.3); without a
    vault store, nowhere (MCP servers that need a token then fail with ``mcp_authentication_failed_error``)."""
    return NO_CREDENTIALS if vaults is None else VaultBearers(vaults.access)


def mcp_tools(settings: Settings, sessions: SessionStore, credentials: McpCredentials) -> McpTools:
    """The MCP client (``corral.egress.mcp``), run beside the harness (which never holds a credential), under the
    egress's address rule."""
    return McpTools(sessions.db, address_guard(settings), credentials)


async def open_workers(
    stack: AsyncExitStack,
    settings: Settings,
    sessions: SessionStore,
    catalog: Catalog,
    vaults: VaultStore | None = None,
    stores: Stores | None = None,
    workspaces: WorkspaceStore | None = None,
) -> Runtime | None:
    """``stores``: what sessions' resources are read from and written to (none: sandboxes get no attachments);
    ``workspaces``: where sessions' workspaces are saved (``open_sandbox``)."""
    if settings.workers <= 0:
        return None
    executors = server_tools(settings)  # first: a bad CORRAL_EGRESS_ALLOW_PRIVATE stops the start (ConfigError)
    secrets = session_secrets(sessions, vaults, vaults.resource_tokens) if vaults is not None else None
    sandbox, egress = await open_sandbox(stack, settings, secrets, workspaces)
    refresh = egress.refresh if egress is not None else None  # a rotated repository token, before the next call
    mcp = await stack.enter_async_context(mcp_tools(settings, sessions, mcp_credentials(vaults)))  # keeps connections
    return Runtime(
        sessions,
        settings,
        sandbox=sandbox,
        environments=environment_source(catalog),
        executors=(*executors, DelegationExecutor(sessions)),
        mcp=mcp,
        attachments=session_attachments(stores, sandbox, refresh) if stores is not None else NO_ATTACHMENTS,
    )
