"""Sandboxes: where model-written code runs.

Cattle, not pets: a dead one is a tool error, and the next call gets a fresh one.
"""

from corral.sandbox.base import Limits, Mount, ProvisionSpec, Sandbox, SandboxProvider, Setup, ToolResult

__all__ = ["Limits", "Mount", "ProvisionSpec", "Sandbox", "SandboxProvider", "Setup", "ToolResult"]
