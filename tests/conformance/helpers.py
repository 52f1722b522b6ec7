"""Shared helpers of the conformance suite: fresh objects and response validation with the SDK's own models.

The SDK parses responses without validating them (``construct``), so every test that reads a body checks it
with ``Model.model_validate(json)``: a missing required field fails here, not in some user's code later.
"""

from __future__ import annotations

import json
import secrets
from typing import Any, TypeVar

import anthropic
from pydantic import BaseModel, TypeAdapter

M = TypeVar("M", bound=BaseModel)


def unique(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


def validated(model: type[M], raw: Any) -> M:
    """``raw`` is an SDK ``with_raw_response`` result; validate its JSON body strictly."""
    return model.model_validate(json.loads(raw.text()))


def validate_json(annotation: Any, body: Any) -> Any:
    return TypeAdapter(annotation).validate_python(body)


def new_agent(client: anthropic.Anthropic, **fields: Any) -> Any:
    fields.setdefault("name", unique("agent"))
    fields.setdefault("model", "claude-sonnet-4-6")
    return client.beta.agents.create(**fields)


def new_environment(client: anthropic.Anthropic, **fields: Any) -> Any:
    fields.setdefault("name", unique("env"))
    return client.beta.environments.create(**fields)


def new_session(client: anthropic.Anthropic, **fields: Any) -> Any:
    if "agent" not in fields:
        fields["agent"] = new_agent(client).id
    if "environment_id" not in fields:
        fields["environment_id"] = new_environment(client).id
    return client.beta.sessions.create(**fields)


def user_message(text: str) -> dict[str, Any]:
    return {"type": "user.message", "content": [{"type": "text", "text": text}]}
