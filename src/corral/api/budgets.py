"""Budgets on sessions and deployments (api.md §5.2, §5.3, §15): what is checked before one is written.

Invariants:

* Every model a session can run (its agent's, and each agent of a multiagent roster) must have a list price in
  the server's table (``Settings.prices``), else 400 ``model_not_budgetable``: on create, on every budget update
  and on a deployment's create or update; a deployment's fire copies its budget onto the session through the same
  create path, so a price removed since is refused there too.
* ``max_list_cost.amount`` is a positive whole number of cents (an integer string).
* Update: an object replaces the budget and must exceed the list cost already recorded (else ``budget_not_raised``);
  ``null`` removes it, for good; a session created without one (or whose budget was removed) cannot get one
  (``budget_create_only``). Raising or removing a budget wakes a session paused at it (``corral.session.spend``).
* Each refusal names its reason in ``error.details.error_code`` and in the message (api.md, open question 8).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from corral._types import JSONObject, json_list, json_object
from corral.api.schemas.sessions import BudgetLimit
from corral.errors import ErrorCode, InvalidRequest
from corral.prices import PriceTable
from corral.session import SessionRecord
from corral.session.spend import spent


def refuse(code: ErrorCode, message: str) -> InvalidRequest:
    return InvalidRequest(f"{code.value}: {message}", code=code, details={"error_code": code.value})


def session_models(snapshot: JSONObject) -> list[str]:
    """The model ids of an agent snapshot: its own and those of any multiagent roster it carries."""
    found: list[str] = []
    _collect(snapshot.get("model"), found)
    _walk(snapshot.get("multiagent"), found)
    return list(dict.fromkeys(found))


def _collect(model: Any, found: list[str]) -> None:
    config = json_object(model)
    if isinstance(model, str):
        found.append(model)
    elif config is not None and isinstance(config.get("id"), str):
        found.append(str(config["id"]))


def _walk(node: Any, found: list[str]) -> None:
    items = json_list(node)
    if items is not None:
        for item in items:
            _walk(item, found)
        return
    table = json_object(node)
    if table is None:
        return
    for key, value in table.items():
        if key == "model":
            _collect(value, found)
        else:
            _walk(value, found)


def check_models(prices: PriceTable, models: list[str]) -> None:
    unpriced = [model for model in models if prices.price(model) is None]
    if unpriced:
        raise refuse(
            ErrorCode.MODEL_NOT_BUDGETABLE,
            f"no list price is known for {', '.join(unpriced)}, so a budget cannot measure it (add it to the"
            " server's price table, CORRAL_PRICES)",
        )


def check_agent_change(prices: PriceTable, record: SessionRecord, changes: JSONObject) -> None:
    """A budgeted session's new agent (a model override, a corral extension) must be priced too."""
    budget = changes["budget"] if "budget" in changes else record.doc.get("budget")
    if budget is not None:
        check_models(prices, session_models(json_object(changes.get("agent")) or {}))


def checked(prices: PriceTable, budget: BudgetLimit, models: list[str]) -> JSONObject:
    """The budget as stored, after checking its amount and the models it must measure."""
    amount = budget.max_list_cost.amount
    if not amount.isascii() or not amount.isdigit() or int(amount) <= 0:
        raise InvalidRequest(
            f"budget.max_list_cost.amount must be a positive whole number of cents as a string, not {amount!r}"
        )
    check_models(prices, models)
    return {"type": "limit", "max_list_cost": {"amount": str(int(amount)), "currency": "USD"}}


def update(prices: PriceTable, record: SessionRecord, budget: BudgetLimit | None) -> JSONObject | None:
    """The session's budget after an update that sent ``budget`` (None: removed)."""
    current = json_object(record.doc.get("budget"))
    if budget is None:
        return None
    if current is None:
        raise refuse(
            ErrorCode.BUDGET_CREATE_ONLY,
            "a budget cannot be added to a session created without one (or whose budget was removed)",
        )
    new = checked(prices, budget, session_models(json_object(record.doc.get("agent")) or {}))
    consumed = spent(record.usage)
    if Decimal(str(new["max_list_cost"]["amount"])) <= consumed * 100:
        raise refuse(
            ErrorCode.BUDGET_NOT_RAISED,
            f"the new max_list_cost ({new['max_list_cost']['amount']} cents) must exceed the list cost the session"
            f" has consumed ({consumed * 100:.4f} cents)",
        )
    return new
