"""The brain: a stateless agent loop over the session log.

``wake(harness, fence)`` drives one session under its lease (see ``wake`` for the crash-recovery policy);
``WorkerPool`` claims runnable sessions and wakes them; ``Runtime`` is what a composition root starts.
Model providers live in ``harness.models``; tools reach the sandbox through ``sandbox.hands.Hands`` and
server-side executors through ``ToolRouter``.
"""

from corral.harness.harness import Harness, Hook, TurnLimits
from corral.harness.router import McpServer, SessionScope, ToolCall, ToolExecutor, ToolRouter, ToolSource
from corral.harness.runtime import Runtime
from corral.harness.wake import wake
from corral.harness.worker import WorkerPool

__all__ = [
    "Harness",
    "Hook",
    "McpServer",
    "Runtime",
    "SessionScope",
    "ToolCall",
    "ToolExecutor",
    "ToolRouter",
    "ToolSource",
    "TurnLimits",
    "WorkerPool",
    "wake",
]
