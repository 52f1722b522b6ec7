"""``Harness``: what every wake of a worker shares (store, model clients, hands, executors, limits).

The harness is stateless with respect to sessions: nothing here is keyed by a session except the
sandbox cache (``HandsPool``), which is an optimisation a takeover can do without.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from corral.config import Settings
from corral.harness.environments import Environments
from corral.harness.hands import HandsPool
from corral.harness.models.registry import ModelRegistry
from corral.harness.router import ToolExecutor
from corral.session import SessionStore

Hook = Callable[[str, str], Awaitable[None]]
"""``(point, session_id)``: called at named points of a turn (tracing, fault injection in tests).

Points: ``model_request_started``, ``first_token``, ``response_recorded``, ``tool_started``,
``tool_recorded``, ``turn_idle``.
"""


@dataclass(frozen=True)
class Limits:
    lease_ttl: float = 10.0
    max_tool_rounds: int = 200
    model_max_retries: int = 4
    model_retry_base: float = 0.5
    max_retry_delay: float = 60.0
    max_tokens: int = 8192
    #: consecutive compactions without a model answer in between before the turn gives up
    compaction_limit: int = 3

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        return cls(
            lease_ttl=settings.lease_ttl_seconds,
            max_tool_rounds=settings.max_tool_rounds,
            model_max_retries=settings.model_max_retries,
            model_retry_base=settings.model_retry_base_seconds,
        )

    def backoff(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait before retry number ``attempt + 1`` (exponential; ``retry-after`` wins)."""
        if retry_after is not None:
            return min(retry_after, self.max_retry_delay)
        return min(self.model_retry_base * (2**attempt), self.max_retry_delay)


@dataclass
class Harness:
    store: SessionStore
    models: ModelRegistry
    hands: HandsPool
    executors: tuple[ToolExecutor, ...] = ()
    limits: Limits = field(default_factory=Limits)
    hook: Hook | None = None
    environments: Environments = field(default_factory=Environments)

    async def reached(self, point: str, session_id: str) -> None:
        if self.hook is not None:
            await self.hook(point, session_id)

    async def aclose(self) -> None:
        await self.hands.aclose()
        await self.models.aclose()
