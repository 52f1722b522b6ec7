"""Budgets in the turn: no model request once the session's list cost has reached its ``budget`` (api.md §5.2).

``BudgetGate.check`` stands between ``decide`` and the step it chose:

* A ``CallModel`` (a turn's request or a compaction's summary) of a session whose budget is reached becomes an
  ``EndTurn`` with ``stop_reason: budget_reached``, preceded by a ``session.usage`` snapshot (the documented
  order, api.md §6.5: ``session.usage`` → ``session.status_idle{budget_reached}``). So does one whose model has
  no list price, and any once a request of an unpriced model was answered (a model router may pick one): a budget
  cannot measure them.
* A session paused at its budget stays paused (``Done``) while the budget is still reached; once a
  ``sessions.update`` raised or removed it (the ``session.updated`` event wakes the session), the turn goes on
  where it stopped: ``session.status_running``, then the model request the pause held back.

Invariants: the cost compared is the session row's, which the store projects from the log in the transaction of
each append (``corral.session.spend``): a worker that takes a session over after a crash sees exactly what was
recorded, counts nothing twice, and makes no request past a reached budget. The request that crosses the limit is
the last one; a request is never cut short for its cost. A session without a budget pays for none of this: the
check reads the store only when the session's snapshot holds a budget (one that was removed never returns).

Seam for threads: each thread's turn gets the same check against the session total.
"""

from __future__ import annotations

from decimal import Decimal

from corral._types import JSONObject, json_object
from corral.harness.decide import RUNNING, CallModel, Done, EndTurn, Step
from corral.harness.log import TurnState
from corral.harness.models.base import Usage
from corral.prices import PriceTable
from corral.session import NewEvent, SessionRecord, SessionStore
from corral.session.spend import public_usage, spent, unmeasured

REACHED = EndTurn({"type": "budget_reached"})


def limit_usd(budget: JSONObject | None) -> Decimal | None:
    """The budget's ``max_list_cost`` in US dollars (its ``amount`` is in cents), None without a budget."""
    if budget is None:
        return None
    cost = json_object(budget.get("max_list_cost")) or {}
    return Decimal(str(cost.get("amount", "0"))) / 100


def request_cost(prices: PriceTable, model_id: str, usage: Usage) -> Decimal | None:
    return prices.cost(model_id, {key: int(value) for key, value in usage.wire().items()})


class BudgetGate:
    def __init__(self, store: SessionStore, prices: PriceTable, session_id: str):
        self.store = store
        self.prices = prices
        self.session_id = session_id

    async def check(self, step: Step, state: TurnState, record: SessionRecord, model_id: str) -> Step:
        paused = state.status == "idle" and state.idle_stop is not None and state.idle_stop["type"] == "budget_reached"
        if not (isinstance(step, CallModel) or (paused and isinstance(step, Done))):
            return step
        if record.doc.get("budget") is None:
            return CallModel(prelude=(RUNNING,)) if paused else step
        fresh = await self.store.get_session(self.session_id)  # the spend and the budget as now recorded
        if not self._reached(fresh, model_id):
            return CallModel(prelude=(RUNNING,)) if paused else step
        if paused:
            return Done()
        snapshot = NewEvent("session.usage", {"usage": public_usage(fresh.usage), "budget": fresh.doc.get("budget")})
        return EndTurn(REACHED.stop_reason, prelude=(*step.prelude, snapshot))

    def _reached(self, record: SessionRecord, model_id: str) -> bool:
        limit = limit_usd(json_object(record.doc.get("budget")))
        if limit is None:
            return False
        unpriced = self.prices.price(model_id) is None or unmeasured(record.usage)  # e.g. a router's choice
        return unpriced or spent(record.usage) >= limit
