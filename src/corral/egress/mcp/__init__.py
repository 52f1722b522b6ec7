"""MCP toolsets: the client side of the Model Context Protocol, run beside the harness, never in a sandbox.

``McpTools`` lists and calls the tools of the MCP servers an agent declares, with the token the session's
vaults hold for each server's URL (``McpCredentials``), exactly once per call (``McpJournal``, in the database).
The composition root builds it and hands it to the harness.
"""

from corral.egress.mcp.credentials import NO_CREDENTIALS, McpCredentials, StaticBearers
from corral.egress.mcp.journal import McpJournal
from corral.egress.mcp.terms import McpToolDefinition
from corral.egress.mcp.tools import McpTools
from corral.egress.mcp.vaults import VaultBearers

__all__ = [
    "NO_CREDENTIALS",
    "McpCredentials",
    "McpJournal",
    "McpToolDefinition",
    "McpTools",
    "StaticBearers",
    "VaultBearers",
]
