"""The brain: a stateless agent loop over the session log.

``wake(harness, fence)`` drives one session under its lease (see ``wake`` for the crash-recovery policy);
``WorkerPool`` claims runnable sessions and wakes them; ``Runtime`` is what a composition root starts.
Model providers live in ``harness.models``; tools reach the sandbox through ``Hands`` and server-side
executors through ``ToolRouter``.
"""

from corral.harness.brain import Harness, Hook, Limits
from corral.harness.environments import Environments, EnvironmentSource, no_environments
from corral.harness.hands import Hands, HandsPool, environment_spec
from corral.harness.router import ToolCall, ToolExecutor, ToolRouter
from corral.harness.runtime import Runtime
from corral.harness.wake import wake
from corral.harness.worker import WorkerPool

__all__ = [
    "EnvironmentSource",
    "Environments",
    "Hands",
    "HandsPool",
    "Harness",
    "Hook",
    "Limits",
    "Runtime",
    "ToolCall",
    "ToolExecutor",
    "ToolRouter",
    "WorkerPool",
    "environment_spec",
    "no_environments",
    "wake",
]
