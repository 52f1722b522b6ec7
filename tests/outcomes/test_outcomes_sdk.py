"""Outcomes (api.md §16) through the official SDK against a live ``corral serve`` (API, workers) whose model is a
scripted model server: the worker's turns follow ``replies``; the grader's requests are told apart by their system
prompt (``GRADER_SYSTEM``) and their iteration, and answered by ``rules``.

What must hold: an outcome is revised until the grader says ``satisfied``; ``max_iterations_reached`` gets one final
acknowledgement; ``user.interrupt`` mid-evaluation ends it ``interrupted``; one outcome at a time; bad rubrics are
400s that write nothing; the grader's request never enters the worker's context; a server killed (SIGKILL)
mid-evaluation resumes from the log and finishes the outcome with one ``start`` and one ``end`` per iteration.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import anthropic
import pytest

from corral.harness.grader_input import GRADER_SYSTEM
from corral.testing import ScriptedModelServer, reply, text, tool_use
from corral.testing.script import LatencyJSON, ReplyJSON
from tests.conformance.helpers import unique
from tests.deployments.helpers import webhook
from tests.deployments.receiver import receiver
from tests.live import LiveServer
from tests.sdk_server import agent_server, sdk

pytestmark = pytest.mark.timeout(300)
Event = dict[str, Any]
MARK = GRADER_SYSTEM[:40]
RUBRIC = "- the summary names the sky\n- it is one sentence\n"
SPANS = ("span.outcome_evaluation_start", "span.outcome_evaluation_end")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, ScriptedModelServer]]:
    with agent_server(tmp_path_factory, "outcomes", env={"CORRAL_WEBHOOK_ALLOW_PRIVATE": "1"}) as running:
        yield running


@pytest.fixture(scope="module")
def client(served: tuple[LiveServer, ScriptedModelServer]) -> Iterator[anthropic.Anthropic]:
    with sdk(served[0]) as made:
        yield made


@pytest.fixture(scope="module")
def ids(client: anthropic.Anthropic) -> tuple[str, str]:
    agent = client.beta.agents.create(name="Writer", model="claude-sonnet-4-6", system="You write summaries.")
    environment = client.beta.environments.create(name=unique("outcomes"), config={"type": "cloud"})
    return agent.id, environment.id


def verdict(result: str, explanation: str, latency: LatencyJSON | None = None) -> ReplyJSON:
    answer = reply(tool_use("record_verdict", {"result": result, "explanation": explanation}))
    if latency is not None:
        answer["latency"] = latency
    return answer


def grader_rule(answer: ReplyJSON, iteration: int | None = None) -> dict[str, Any]:
    rule: dict[str, Any] = {"system_contains": MARK, "reply": answer}
    if iteration is not None:
        rule["contains"] = f"Evaluation iteration: {iteration} "
    return rule


def define(description: str = "Summarise the sky", max_iterations: int | None = None, **rubric: Any) -> Any:
    event: dict[str, Any] = {
        "type": "user.define_outcome",
        "description": description,
        "rubric": rubric or {"type": "text", "content": RUBRIC},
    }
    if max_iterations is not None:
        event["max_iterations"] = max_iterations
    return event


def settled(event: Event) -> bool:
    return event["type"] == "session.status_idle" and event["stop_reason"]["type"] != "requires_action"


def follow(
    client: anthropic.Anthropic,
    session_id: str,
    until: Callable[[Event], bool],
    *,
    after: str | None = None,
    send: list[Any] | None = None,
) -> list[Event]:
    """The session's events up to the first one ``until`` accepts: those after ``after`` (resumed from the log,
    ``Last-Event-ID``), or those that ``send`` causes (the stream is subscribed before it is sent)."""
    headers = {"Last-Event-ID": after} if after else None
    seen: list[Event] = []
    with client.beta.sessions.events.stream(session_id, extra_headers=headers) as stream:
        if send:
            client.beta.sessions.events.send(session_id, events=send)
        for event in stream:
            seen.append(event.model_dump())
            if until(seen[-1]):
                break
    return seen


def spans(events: list[Event]) -> list[Event]:
    return [event for event in events if event["type"] in SPANS]


def grader_requests(model: ScriptedModelServer, since: int = 0) -> list[str]:
    """The bodies (JSON text) of the grader's requests the model server saw, from request number ``since``."""
    return [json.dumps(r.body) for r in model.requests[since:] if MARK in str(r.body.get("system"))]


def worker_requests(model: ScriptedModelServer, since: int = 0) -> list[str]:
    return [json.dumps(r.body) for r in model.requests[since:] if MARK not in str(r.body.get("system"))]


def test_an_outcome_with_a_file_rubric_is_revised_until_the_grader_is_satisfied(
    served: tuple[LiveServer, ScriptedModelServer], client: anthropic.Anthropic, ids: tuple[str, str]
) -> None:
    _, model = served
    model.set_script(
        {
            "replies": [reply(text("Draft one: clouds.")), reply(text("The sky is blue."))],
            "rules": [
                grader_rule(verdict("needs_revision", "missing: the sky is not named"), 0),
                grader_rule(verdict("satisfied", "every criterion met"), 1),
            ],
        }
    )
    before = len(model.requests)
    rubric = client.beta.files.upload(file=("rubric.md", RUBRIC.encode(), "text/markdown"))
    session = client.beta.sessions.create(
        agent=ids[0], environment_id=ids[1], initial_events=[define(type="file", file_id=rubric.id)]
    )
    echo = client.beta.sessions.events.list(session.id).data[0].model_dump()
    assert echo["type"] == "user.define_outcome" and echo["outcome_id"].startswith("outc_")
    assert echo["rubric"] == {"type": "text", "content": RUBRIC} and echo["max_iterations"] == 3
    assert echo["processed_at"] is not None

    events = follow(client, session.id, settled, after=echo["id"])
    ends = [e for e in spans(events) if e["type"] == "span.outcome_evaluation_end"]
    starts = [e for e in spans(events) if e["type"] == "span.outcome_evaluation_start"]
    assert [(e["iteration"], e["result"]) for e in ends] == [(0, "needs_revision"), (1, "satisfied")]
    assert [e["outcome_evaluation_start_id"] for e in ends] == [e["id"] for e in starts]
    assert {e["outcome_id"] for e in ends} == {echo["outcome_id"]} and events[-1]["stop_reason"]["type"] == "end_turn"
    assert any(e["type"] == "span.outcome_evaluation_ongoing" for e in events)
    assert [e["type"] for e in events].count("session.status_idle") == 1  # running until the outcome ended

    (evaluation,) = client.beta.sessions.retrieve(session.id).outcome_evaluations
    assert (evaluation.outcome_id, evaluation.result, evaluation.iteration) == (echo["outcome_id"], "satisfied", 1)
    assert evaluation.explanation == "every criterion met" and evaluation.completed_at is not None

    graders, workers = grader_requests(model, before), worker_requests(model, before)
    assert len(graders) == 2 and all(json.dumps(RUBRIC)[1:-1] in body for body in graders)
    assert all(len(json.loads(body)["messages"]) == 1 for body in graders)  # its own context, not the worker's
    assert "Draft one: clouds." in graders[0] and len(workers) == 2
    assert all("record_verdict" not in body and MARK not in body for body in workers)
    assert "missing: the sky is not named" in workers[1]  # the verdict is the agent's next input


def test_max_iterations_reached_gets_one_final_acknowledgement(
    served: tuple[LiveServer, ScriptedModelServer], client: anthropic.Anthropic, ids: tuple[str, str]
) -> None:
    live, model = served
    replies = [reply(text("Try one.")), reply(text("Try two.")), reply(text("Understood, stopping."))]
    model.set_script({"replies": replies, "rules": [grader_rule(verdict("needs_revision", "still vague"))]})
    session = client.beta.sessions.create(agent=ids[0], environment_id=ids[1])
    with receiver() as hook, webhook(live, hook.url, ["session.outcome_evaluation_ended"]):
        events = follow(client, session.id, settled, send=[define(max_iterations=2)])
        delivered = [json.loads(hook.next().body)["data"] for _ in range(2)]  # one per evaluation
    assert [(d["type"], d["id"]) for d in delivered] == [("session.outcome_evaluation_ended", session.id)] * 2
    ends = [e for e in spans(events) if e["type"] == "span.outcome_evaluation_end"]
    assert [(e["iteration"], e["result"]) for e in ends] == [(0, "needs_revision"), (1, "max_iterations_reached")]
    after_last = events[events.index(ends[-1]) :]
    assert [e["content"][0]["text"] for e in after_last if e["type"] == "agent.message"] == ["Understood, stopping."]
    (evaluation,) = client.beta.sessions.retrieve(session.id).outcome_evaluations
    assert evaluation.result == "max_iterations_reached" and evaluation.completed_at is not None


def test_an_interrupt_mid_evaluation_ends_the_outcome_and_one_outcome_runs_at_a_time(
    served: tuple[LiveServer, ScriptedModelServer], client: anthropic.Anthropic, ids: tuple[str, str]
) -> None:
    _, model = served
    slow = verdict("satisfied", "late", latency={"ttft": {"dist": "fixed", "seconds": 120}})
    model.set_script({"replies": [reply(text("Working."))], "rules": [grader_rule(slow)]})
    session = client.beta.sessions.create(agent=ids[0], environment_id=ids[1])
    started = follow(client, session.id, lambda e: e["type"] == "span.outcome_evaluation_start", send=[define()])

    refused: list[Any] = [
        [define("another")],
        [define(type="text", content="x" * 262_145)],
        [define(max_iterations=21)],
        [define(type="file", file_id="file_doesnotexist")],
    ]
    for events in refused:
        with pytest.raises((anthropic.BadRequestError, anthropic.NotFoundError)):
            client.beta.sessions.events.send(session.id, events=events)
    sessions = len(client.beta.sessions.list(limit=100).data)
    with pytest.raises(anthropic.BadRequestError):
        client.beta.sessions.create(agent=ids[0], environment_id=ids[1], initial_events=[define(), define()])
    assert len(client.beta.sessions.list(limit=100).data) == sessions  # nothing was written
    assert len(client.beta.sessions.retrieve(session.id).outcome_evaluations) == 1
    steer: Any = {"type": "user.message", "content": [{"type": "text", "text": "Keep it short."}]}
    sent = client.beta.sessions.events.send(session.id, events=[steer]).data or []
    assert [event.type for event in sent] == ["user.message"]  # steering is accepted mid-outcome

    events = follow(client, session.id, settled, after=started[-1]["id"], send=[{"type": "user.interrupt"}])
    (end,) = [e for e in events if e["type"] == "span.outcome_evaluation_end"]
    assert end["result"] == "interrupted" and end["outcome_evaluation_start_id"] == started[-1]["id"]
    assert events[-1]["stop_reason"]["type"] == "end_turn"
    assert client.beta.sessions.retrieve(session.id).outcome_evaluations[0].result == "interrupted"

    model.set_script({"replies": [reply(text("Working."))], "rules": [grader_rule(verdict("satisfied", "ok"))]})
    events = follow(client, session.id, settled, send=[define("the next one")])  # accepted once the first ended
    assert [e["result"] for e in spans(events) if e["type"] == "span.outcome_evaluation_end"] == ["satisfied"]
    assert [e.result for e in client.beta.sessions.retrieve(session.id).outcome_evaluations] == [
        "interrupted",
        "satisfied",
    ]


def test_a_grader_without_a_verdict_fails_the_outcome(
    served: tuple[LiveServer, ScriptedModelServer], client: anthropic.Anthropic, ids: tuple[str, str]
) -> None:
    _, model = served
    session = client.beta.sessions.create(agent=ids[0], environment_id=ids[1])
    answers = [("Looks fine to me.", "failed"), ('{"result": "satisfied", "explanation": "as JSON"}', "satisfied")]
    for answer, result in answers:  # a verdict in JSON text is accepted too
        model.set_script({"replies": [reply(text("Done."))], "rules": [grader_rule(reply(text(answer)))]})
        events = follow(client, session.id, settled, send=[define()])
        (end,) = [e for e in spans(events) if e["type"] == "span.outcome_evaluation_end"]
        assert end["result"] == result and events[-1]["stop_reason"]["type"] == "end_turn"
    first = client.beta.sessions.retrieve(session.id).outcome_evaluations[0]
    assert first.result == "failed" and "no verdict" in (first.explanation or "")


def test_an_interrupt_during_the_agents_work_ends_the_outcome_too(
    served: tuple[LiveServer, ScriptedModelServer], client: anthropic.Anthropic, ids: tuple[str, str]
) -> None:
    _, model = served
    slow: ReplyJSON = {**reply(text("never seen")), "latency": {"ttft": {"dist": "fixed", "seconds": 120}}}
    model.set_script({"replies": [slow], "rules": [grader_rule(verdict("satisfied", "never asked"))]})
    session = client.beta.sessions.create(agent=ids[0], environment_id=ids[1])
    asked = follow(client, session.id, lambda e: e["type"] == "span.model_request_start", send=[define()])
    events = follow(client, session.id, settled, after=asked[-1]["id"], send=[{"type": "user.interrupt"}])
    start, end = spans(events)
    assert (start["iteration"], end["result"], end["outcome_evaluation_start_id"]) == (0, "interrupted", start["id"])
    assert client.beta.sessions.retrieve(session.id).outcome_evaluations[0].result == "interrupted"


def test_a_server_killed_mid_evaluation_finishes_the_outcome_once(
    served: tuple[LiveServer, ScriptedModelServer], client: anthropic.Anthropic, ids: tuple[str, str]
) -> None:
    live, model = served
    slow = verdict("satisfied", "never seen", latency={"ttft": {"dist": "fixed", "seconds": 120}})
    model.set_script({"replies": [reply(text("The sky is blue."))], "rules": [grader_rule(slow)]})
    session = client.beta.sessions.create(agent=ids[0], environment_id=ids[1])
    started = follow(client, session.id, lambda e: e["type"] == "span.outcome_evaluation_start", send=[define()])
    workers = len(worker_requests(model))

    live.kill()  # SIGKILL while the grader's request is in flight
    model.set_script(
        {"replies": [reply(text("must not be asked"))], "rules": [grader_rule(verdict("satisfied", "ok"))]}
    )
    live.start()
    with sdk(live) as again:
        follow(again, session.id, settled, after=started[-1]["id"])
        log = [event.model_dump() for event in again.beta.sessions.events.list(session.id, limit=1000)]
        evaluation = again.beta.sessions.retrieve(session.id).outcome_evaluations[0]
    assert [(e["type"], e.get("result")) for e in spans(log)] == [(SPANS[0], None), (SPANS[1], "satisfied")]
    assert spans(log)[1]["outcome_evaluation_start_id"] == started[-1]["id"]
    assert "session.status_rescheduled" in [e["type"] for e in log]
    assert len(worker_requests(model)) == workers  # the agent's work was not done again
    assert evaluation.result == "satisfied" and evaluation.iteration == 0
