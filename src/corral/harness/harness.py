"""``Harness``: what every wake of a worker shares (store, model clients, hands, executors, MCP, limits, hook, the
judge of ``auto`` permission policies, and the agents' extensions: ``harness.extensions``).

The harness is stateless with respect to sessions: nothing here is keyed by a session except the sandbox
cache (``HandsPool``) and the warm logs (``WarmLogs``), optimisations a takeover can do without.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from corral.config import Settings
from corral.harness.extensions import ExtensionHost
from corral.harness.models.registry import ModelRegistry
from corral.harness.policy import Judge, RuleJudge
from corral.harness.router import ToolExecutor, ToolSource
from corral.harness.warm import WarmLogs
from corral.prices import PriceTable
from corral.sandbox.hands import HandsPool
from corral.session import SessionStore

Hook = Callable[[str, str], Awaitable[None]]
"""``(point, session_id)``: called at named points of a turn, for every session of the process (tracing, fault
injection in tests). An agent's own observers (``corral.extend.TurnObserver``) are called right after it.

Points (``corral.extend.POINTS``): ``model_request_started``, ``first_token``, ``response_recorded``,
``tool_started``, ``tool_recorded``, ``turn_idle``; and inside extensions' work: ``context_built`` (a context
strategy returned; nothing of it recorded yet) and ``tool_ran`` (a server-side tool's result is in its journal, not
yet in the log). For the process hook only: ``outcome_evaluation_started`` (the grader's start is written,
``corral.harness.grader``).
"""


@dataclass(frozen=True)
class TurnLimits:
    """The bounds of a turn, from ``Settings`` (where every default is declared)."""

    lease_ttl: float
    max_tool_rounds: int
    model_max_retries: int
    model_retry_base: float
    max_retry_delay: float
    max_tokens: int
    #: consecutive compactions without a model answer in between before the turn gives up
    compaction_limit: int

    @classmethod
    def from_settings(cls, settings: Settings) -> TurnLimits:
        return cls(
            lease_ttl=settings.lease_ttl_seconds,
            max_tool_rounds=settings.max_tool_rounds,
            model_max_retries=settings.model_max_retries,
            model_retry_base=settings.model_retry_base_seconds,
            max_retry_delay=settings.model_max_retry_delay_seconds,
            max_tokens=settings.model_max_tokens,
            compaction_limit=settings.compaction_limit,
        )

    def backoff(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait before retry number ``attempt + 1`` (exponential; ``retry-after`` wins)."""
        if retry_after is not None:
            return min(retry_after, self.max_retry_delay)
        return min(self.model_retry_base * (2**attempt), self.max_retry_delay)

    def retries_left(self, attempt: int) -> bool:
        """Whether a retryable failure after ``attempt`` earlier failures in a row is tried again."""
        return attempt < self.model_max_retries


@dataclass
class Harness:
    store: SessionStore
    models: ModelRegistry
    hands: HandsPool
    limits: TurnLimits
    executors: tuple[ToolExecutor, ...] = ()
    hook: Hook | None = None
    judge: Judge = field(default_factory=RuleJudge)
    #: the MCP toolsets of agents (``corral.egress.mcp``, wired by the composition root); None: none here
    mcp: ToolSource | None = None
    #: list prices of models, for budgets (``corral.harness.budget``)
    prices: PriceTable = field(default_factory=PriceTable.defaults)
    #: loads the extensions agents select, and calls their observers (``harness.extensions``)
    extensions: ExtensionHost = field(default_factory=ExtensionHost)
    #: the logs of this worker's finished wakes, continued by the sessions' next wakes (``harness.warm``)
    warm: WarmLogs = field(default_factory=lambda: WarmLogs(0))

    async def reached(self, point: str, session_id: str) -> None:
        if self.hook is not None:
            await self.hook(point, session_id)
        await self.extensions.notify(point, session_id)

    async def aclose(self) -> None:
        await self.hands.aclose()
        await self.models.aclose()
