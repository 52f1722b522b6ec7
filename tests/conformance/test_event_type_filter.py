"""``events.list(types=[…])`` accepts every event type the SDK lists (the ``workflow_run.*`` ones included) and
filters by them; anything else is a 400."""

from __future__ import annotations

from typing import get_args

import anthropic
import pytest
from anthropic.types.beta.sessions import BetaManagedAgentsSessionEventType

from tests.conformance.helpers import new_session


def test_every_type_the_sdk_lists_is_a_valid_filter(client: anthropic.Anthropic) -> None:
    session = new_session(client)
    client.beta.sessions.events.send(
        session.id, events=[{"type": "user.message", "content": [{"type": "text", "text": "hi"}]}]
    )
    every = list(get_args(BetaManagedAgentsSessionEventType))
    assert {"workflow_run.created", "workflow_run.phase_ended"} <= set(every)
    assert [e.type for e in client.beta.sessions.events.list(session.id, types=every)] == ["user.message"]
    workflow = [kind for kind in every if kind.startswith("workflow_run.")]
    assert list(client.beta.sessions.events.list(session.id, types=workflow)) == []


def test_an_unknown_type_is_refused(client: anthropic.Anthropic) -> None:
    session = new_session(client)
    with pytest.raises(anthropic.BadRequestError, match="unknown event types"):
        client.beta.sessions.events.list(session.id, types=["workflow_run.teleported"])  # pyright: ignore[reportArgumentType] - deliberately off the SDK's list
