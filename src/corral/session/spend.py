"""What a session has spent, and whether it is paused at its budget: part of the session row's projection.

The harness prices each model request when it records it: ``span.model_request_end`` carries ``list_cost_usd``,
the request's exact list cost in US dollars (a decimal string; absent when the model has no list price). The
projection sums those into the row's ``usage`` as it appends them, so the total is a pure function of the log:
a request is counted once because its closing span is appended once (a worker killed mid-request never wrote
one; the takeover closes the span with an error and no usage, and asks again).

Invariants:

* ``usage.list_cost`` (``{amount, currency}``, whole cents rounded half up) is shown only once a priced request
  was recorded; the exact sum is kept beside it under a private key (``_list_cost_usd``), which is where budgets
  are measured against.
* A request answered by a model without a list price that a model router chose (``unpriced_model`` on its
  closing span; the agent's own model was priced when the budget was set) sets ``_unpriced``: a budget
  cannot measure such a session any more, so it counts as reached (api.md §7.2, ``budget_reached``: "or a model
  without list price was used") until the budget is removed.
* ``_budget_paused`` is set by an idle event with ``stop_reason: budget_reached`` and cleared by the next status
  event: while it is set the session takes only the events that settle what it waits for (``paused``).
* Private keys (``_`` prefix) never leave the server: every reader of ``usage`` for a client goes through
  ``public_usage``.

Seam for threads: the cost is on each thread's span events, so a per-thread figure is the same sum over that
thread's events; the session total here is what a budget is enforced against (api-types.md, thread usage).
"""

from __future__ import annotations

from decimal import Decimal

from corral._types import JSONObject
from corral.prices import cents

EXACT = "_list_cost_usd"
PAUSED = "_budget_paused"
UNPRICED = "_unpriced"


def add_cost(usage: JSONObject, span_end: JSONObject) -> None:
    """Add a ``span.model_request_end``'s list cost to ``usage`` (a request without a price adds nothing)."""
    cost = span_end.get("list_cost_usd")
    if not isinstance(cost, str):
        if isinstance(span_end.get("unpriced_model"), str):
            usage[UNPRICED] = True  # a router's choice answered, and nothing can say what it cost
        return
    total = Decimal(str(usage.get(EXACT, "0"))) + Decimal(cost)
    usage[EXACT] = str(total)
    usage["list_cost"] = {"amount": str(cents(total)), "currency": "USD"}


def unmeasured(usage: JSONObject) -> bool:
    """True once a request of a model without a list price was answered."""
    return usage.get(UNPRICED) is True


def spent(usage: JSONObject) -> Decimal:
    """The exact list cost recorded so far, in US dollars."""
    return Decimal(str(usage.get(EXACT, "0")))


def set_paused(usage: JSONObject, paused: bool) -> None:
    if paused:
        usage[PAUSED] = True
    else:
        usage.pop(PAUSED, None)


def may_be_paused(usage_text: str) -> bool:
    """A cheap pre-check on the row's JSON text (most sessions never pause: no parsing on their appends)."""
    return PAUSED in usage_text


def public_usage(usage: JSONObject) -> JSONObject:
    return {key: value for key, value in usage.items() if not key.startswith("_")}
