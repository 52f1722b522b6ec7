"""Budgets through the official SDK against a live server (api.md §5.2–§5.3, §6.5, §7.2): the session stops asking
the model once its list cost reaches the budget, takes only settle events while paused, and goes on when the
budget is raised; the documented refusals; a deployment's budget on the sessions it starts; and a worker killed
mid-request near the limit, with nothing counted twice and no request past the limit."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any, cast

import anthropic
import anyio
import pytest
from anthropic.types.beta import BetaManagedAgentsSessionUpdatedEvent, BetaManagedAgentsSessionUsageEvent
from anthropic.types.beta.sessions import (
    BetaManagedAgentsSessionEvent,
    BetaManagedAgentsSessionStatusIdleEvent,
    BetaManagedAgentsSpanModelRequestEndEvent,
)

from corral.testing import ScriptedModelServer
from tests.budgets.conftest import LOOKUP, PRICED_HERE, script
from tests.harness.helpers import eventually
from tests.live import LiveServer

Event = BetaManagedAgentsSessionEvent
Idle = BetaManagedAgentsSessionStatusIdleEvent
MODEL = "claude-sonnet-4-6"


def budget(cents: str) -> Any:
    return {"type": "limit", "max_list_cost": {"amount": cents, "currency": "USD"}}


def error_code(err: anthropic.APIStatusError) -> str:
    body = cast(dict[str, Any], err.body)
    return str(body["error"]["details"]["error_code"])


def new_session(client: anthropic.Anthropic, model: str = MODEL, **fields: Any) -> str:
    agent = client.beta.agents.create(name=f"budget-{time.monotonic_ns()}", model=model, tools=[LOOKUP])
    environment = client.beta.environments.create(name=f"budget-{time.monotonic_ns()}")
    return client.beta.sessions.create(agent=agent.id, environment_id=environment.id, **fields).id


def message(client: anthropic.Anthropic, session_id: str, prompt: str) -> None:
    client.beta.sessions.events.send(
        session_id, events=[{"type": "user.message", "content": [{"type": "text", "text": prompt}]}]
    )


def answer(client: anthropic.Anthropic, session_id: str, event_ids: list[str]) -> None:
    results: list[Any] = [
        {"type": "user.custom_tool_result", "custom_tool_use_id": event_id, "content": [{"type": "text", "text": "42"}]}
        for event_id in event_ids
    ]
    client.beta.sessions.events.send(session_id, events=results)


def idles(events: list[Event]) -> list[Idle]:
    return [event for event in events if isinstance(event, Idle)]


def awaited(events: list[Event]) -> list[str]:
    """The ids the session's last idle event waits for (it must be ``requires_action``)."""
    stop = idles(events)[-1].stop_reason
    assert stop.type == "requires_action", stop
    return list(stop.event_ids)


def until_idle(client: anthropic.Anthropic, session_id: str, count: int, act: Callable[[], object]) -> list[Event]:
    """Do ``act`` with the stream open; return the session's events once it holds ``count`` idle events."""
    with client.beta.sessions.events.stream(session_id) as stream:
        act()
        events = list(client.beta.sessions.events.list(session_id))
        seen = {event.id for event in events}
        if len(idles(events)) >= count:
            return events
        for event in stream:
            if event.type == "session.status_idle" and event.id not in seen:
                events = list(client.beta.sessions.events.list(session_id))
                if len(idles(events)) >= count:
                    return events
    raise AssertionError("the stream ended before the session went idle")


def requests_of(model: ScriptedModelServer, prompt: str) -> int:
    return sum(1 for request in model.requests if prompt in json.dumps(request.body))


def run_to_pause(client: anthropic.Anthropic, session_id: str, prompt: str) -> list[Event]:
    """Message the session and answer its three ``lookup`` calls: the third request crosses the 5-cent budget."""
    events = until_idle(client, session_id, 1, lambda: message(client, session_id, prompt))
    for round_ in range(3):
        ids = awaited(events)
        events = until_idle(client, session_id, round_ + 2, lambda ids=ids: answer(client, session_id, ids))
    return events


def test_a_budget_pauses_the_session_at_its_limit_and_raising_it_resumes(
    client: anthropic.Anthropic, model: ScriptedModelServer
) -> None:
    session_id = new_session(client, budget=budget("5"))
    created = client.beta.sessions.retrieve(session_id).budget
    assert created is not None and created.max_list_cost.amount == "5"
    events = run_to_pause(client, session_id, "pause-at-limit")
    tail = [event.type for event in events[-4:]]
    assert tail == ["user.custom_tool_result", "session.status_running", "session.usage", "session.status_idle"]
    usage_event, idle = events[-2], events[-1]
    assert isinstance(idle, Idle) and idle.stop_reason.type == "budget_reached"
    assert isinstance(usage_event, BetaManagedAgentsSessionUsageEvent) and usage_event.usage.list_cost is not None
    assert usage_event.usage.list_cost.amount == "5"  # 3 requests of 1.8 cents: 5.4, shown in whole cents
    assert usage_event.budget is not None and usage_event.budget.max_list_cost.amount == "5"
    assert requests_of(model, "pause-at-limit") == 3  # no request once the limit was reached
    with pytest.raises(anthropic.BadRequestError) as refused:
        message(client, session_id, "more please")
    assert error_code(refused.value) == "budget_reached"
    with pytest.raises(anthropic.BadRequestError) as not_raised:
        client.beta.sessions.update(session_id, budget=budget("5"))  # 5 cents does not exceed 5.4
    assert error_code(not_raised.value) == "budget_not_raised"
    events = until_idle(client, session_id, 5, lambda: client.beta.sessions.update(session_id, budget=budget("10")))
    assert idles(events)[-1].stop_reason.type == "end_turn"
    updated = [event for event in events if isinstance(event, BetaManagedAgentsSessionUpdatedEvent)]
    assert len(updated) == 1 and updated[0].budget is not None and updated[0].budget.max_list_cost.amount == "10"
    assert requests_of(model, "pause-at-limit") == 4
    session = client.beta.sessions.retrieve(session_id)
    assert session.usage.list_cost is not None and session.usage.list_cost.amount == "7"  # 4 × 1.8 cents


def test_a_budget_is_create_only_and_removing_it_is_for_good(client: anthropic.Anthropic) -> None:
    unbudgeted = new_session(client)
    with pytest.raises(anthropic.BadRequestError) as refused:
        client.beta.sessions.update(unbudgeted, budget=budget("100"))
    assert error_code(refused.value) == "budget_create_only"
    budgeted = new_session(client, budget=budget("100"))
    assert client.beta.sessions.update(budgeted, budget=None).budget is None
    removed = [
        event
        for event in client.beta.sessions.events.list(budgeted, types=["session.updated"])
        if isinstance(event, BetaManagedAgentsSessionUpdatedEvent)
    ]
    assert len(removed) == 1 and "budget" in removed[0].model_fields_set and removed[0].budget is None
    with pytest.raises(anthropic.BadRequestError) as again:
        client.beta.sessions.update(budgeted, budget=budget("100"))
    assert error_code(again.value) == "budget_create_only"


def test_a_model_without_a_list_price_is_not_budgetable(client: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.BadRequestError) as refused:
        new_session(client, model="claude-mythos-5", budget=budget("100"))
    assert error_code(refused.value) == "model_not_budgetable"
    assert "claude-mythos-5" in refused.value.message
    new_session(client, model="claude-mythos-5")  # without a budget it needs no price
    priced = new_session(client, model=PRICED_HERE, budget=budget("100"))  # priced by CORRAL_PRICES
    assert client.beta.sessions.retrieve(priced).budget is not None
    with pytest.raises(anthropic.BadRequestError) as moved:  # a model override (a corral extension) needs one too
        client.beta.sessions.update(priced, agent=cast(Any, {"model": "claude-mythos-5"}))
    assert error_code(moved.value) == "model_not_budgetable"
    for amount in ("0", "1.5", "abc"):
        with pytest.raises(anthropic.BadRequestError):
            new_session(client, budget=budget(amount))


def test_a_deployment_carries_its_budget_to_the_sessions_it_starts(client: anthropic.Anthropic) -> None:
    agent = client.beta.agents.create(name=f"budget-{time.monotonic_ns()}", model=MODEL, tools=[LOOKUP])
    environment = client.beta.environments.create(name=f"budget-{time.monotonic_ns()}")
    start: Any = {"type": "user.message", "content": [{"type": "text", "text": "deployed"}]}
    made = client.beta.deployments.create(
        agent=agent.id, environment_id=environment.id, initial_events=[start], name="capped", budget=budget("250")
    )
    assert made.budget is not None and made.budget.max_list_cost.amount == "250"
    run = client.beta.deployments.run(made.id)
    assert run.session_id is not None
    session = client.beta.sessions.retrieve(run.session_id)
    assert session.deployment_id == made.id
    assert session.budget is not None and session.budget.max_list_cost.amount == "250"
    assert client.beta.deployments.update(made.id, budget=None).budget is None
    unpriced = client.beta.agents.create(name=f"budget-{time.monotonic_ns()}", model="claude-mythos-5")
    with pytest.raises(anthropic.BadRequestError) as refused:
        client.beta.deployments.create(
            agent=unpriced.id, environment_id=environment.id, initial_events=[start], name="x", budget=budget("9")
        )
    assert error_code(refused.value) == "model_not_budgetable"


@pytest.mark.timeout(300)  # a restart of the server under load
def test_a_worker_killed_mid_request_near_the_limit_counts_nothing_twice(
    client: anthropic.Anthropic, model: ScriptedModelServer, server: LiveServer
) -> None:
    session_id = new_session(client, budget=budget("5"))
    prompt = "killed-near-limit"
    model.set_script(dict(script(slow_at=2)))  # the request that crosses the limit hangs until the kill
    try:
        events = until_idle(client, session_id, 1, lambda: message(client, session_id, prompt))
        events = until_idle(client, session_id, 2, lambda ids=awaited(events): answer(client, session_id, ids))
        answer(client, session_id, awaited(events))  # the third request, which crosses the limit, hangs
        # the model server has no feed: look until the third request is in flight there (its span is open)
        anyio.run(eventually, lambda: requests_of(model, prompt) >= 3)
        server.kill()
    finally:
        model.set_script(dict(script()))
    server.start()
    events = until_idle(client, session_id, 3, lambda: None)  # the takeover asked again: the third lookup
    assert "session.status_rescheduled" in [event.type for event in events]
    events = until_idle(client, session_id, 4, lambda ids=awaited(events): answer(client, session_id, ids))
    assert idles(events)[-1].stop_reason.type == "budget_reached"
    ends = [event for event in events if isinstance(event, BetaManagedAgentsSpanModelRequestEndEvent)]
    assert [event.is_error for event in ends] == [False, False, True, False]  # the cut request asked again
    assert requests_of(model, prompt) == 4
    session = client.beta.sessions.retrieve(session_id)
    assert session.usage.list_cost is not None and session.usage.list_cost.amount == "5"  # 3 × 1.8, once each
    assert session.usage.input_tokens == 3000 and session.usage.output_tokens == 3000
