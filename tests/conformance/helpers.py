"""Shared helpers of the conformance suite: fresh objects, response validation with the SDK's own models, and
typed reads of the SDK's event unions.

The SDK parses responses without validating them (``construct``), so every test that reads a body checks it
with ``Model.model_validate(json)``: a missing required field fails here, not in some user's code later.

The SDK's events are a union discriminated by ``type``; ``text_of`` and ``stop_of`` narrow one to the kind a
test expects (and fail if it is another), so tests read fields without casts.
"""

from __future__ import annotations

import json
import secrets
from typing import Any, Protocol, TypeVar, cast

import anthropic
from anthropic.types.beta import BetaEnvironment, BetaManagedAgentsAgent, BetaManagedAgentsSession
from anthropic.types.beta.sessions import (
    BetaManagedAgentsSessionEvent,
    BetaManagedAgentsStreamSessionEvents,
    BetaManagedAgentsUserMessageEventParams,
)
from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)

AnyEvent = BetaManagedAgentsSessionEvent | BetaManagedAgentsStreamSessionEvents
"""An event as ``events.list`` or ``events.stream`` returns it."""


class RawResponse(Protocol):
    """What ``with_raw_response`` returns, as far as these tests read it."""

    def text(self) -> str: ...


def unique(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


def validated(model: type[M], raw: RawResponse) -> M:
    """``raw`` is an SDK ``with_raw_response`` result; validate its JSON body strictly."""
    return model.model_validate(json.loads(raw.text()))


def new_agent(client: anthropic.Anthropic, **fields: Any) -> BetaManagedAgentsAgent:
    fields.setdefault("name", unique("agent"))
    fields.setdefault("model", "claude-sonnet-4-6")
    return client.beta.agents.create(**fields)


def new_environment(client: anthropic.Anthropic, **fields: Any) -> BetaEnvironment:
    fields.setdefault("name", unique("env"))
    return client.beta.environments.create(**fields)


def new_session(client: anthropic.Anthropic, **fields: Any) -> BetaManagedAgentsSession:
    if "agent" not in fields:
        fields["agent"] = new_agent(client).id
    if "environment_id" not in fields:
        fields["environment_id"] = new_environment(client).id
    return client.beta.sessions.create(**fields)


def user_message(text: str) -> BetaManagedAgentsUserMessageEventParams:
    return {"type": "user.message", "content": [{"type": "text", "text": text}]}


def error_body(err: anthropic.APIStatusError) -> dict[str, Any]:
    """The JSON body of an error response (JSON from the wire, read as a plain mapping)."""
    body = cast(dict[str, Any], err.body)
    assert type(body) is dict, body
    return body


def off_spec(value: object) -> Any:
    """A request value the SDK's types do not allow, sent on purpose: the server must refuse it."""
    return value


def text_of(event: AnyEvent) -> str:
    """The text of a message event (``agent.message`` or ``user.message``) whose first block is text."""
    if event.type == "agent.message":
        block = event.content[0]
    else:
        assert event.type == "user.message", event.type
        block = event.content[0]
    assert block.type == "text", block.type
    return block.text


def stop_of(event: AnyEvent) -> str:
    """Why a ``session.status_idle`` event stopped (``end_turn``, ``requires_action`` …)."""
    assert event.type == "session.status_idle", event.type
    return event.stop_reason.type
