"""Refusals as documented: requests of the SDK's generated tests that the API itself turns down, each with where
that refusal is written down. A test refused this way is recorded as such, never counted as passing and never
skipped.

Invariants:

* A refusal is recognised from the request that was sent (a placeholder value, a field corral documents as not
  supported yet) together with the answer's status and error type, and for validation errors the parameter the
  error names: never from an error message.
* The table only grows with a reason: a refusal belongs here when the API documents it (the hosted API's own
  rules, or a feature corral's README lists as refused with a 400 until it lands). Anything else a test is
  refused with is a failure to fix, and the runner reports it as one.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from tools.conformance.transport import Exchange

SKILL_UPLOAD = re.compile(r"/v1/skills(/[^/]+/versions)?")


@dataclass(frozen=True)
class Refusal:
    label: str
    why: str
    matches: Callable[[Exchange], bool]


def _invalid(exchange: Exchange) -> bool:
    error = exchange.error or {}
    return exchange.status == 400 and error.get("type") == "invalid_request_error"


def _names_param(exchange: Exchange, name: str) -> bool:
    """A 400 whose validation details name the query parameter ``name``."""
    details = cast(dict[str, Any], (exchange.error or {}).get("details") or {})
    errors = cast(list[dict[str, Any]], details.get("errors") or [])
    return _invalid(exchange) and any(entry.get("loc") == ["query", name] for entry in errors)


def _query_is(name: str, value: str) -> Callable[[Exchange], bool]:
    return lambda exchange: (name, value) in exchange.query


def _field(exchange: Exchange, name: str) -> Any:
    body: Any = exchange.body
    return cast(dict[str, Any], body).get(name) if isinstance(body, dict) else None


def _sends(name: str) -> Callable[[Exchange], bool]:
    return lambda exchange: _field(exchange, name) not in (None, [], {})


def _names_body_field(exchange: Exchange, name: str) -> bool:
    """A 400 whose validation details name a body field ``name`` (at any depth)."""
    details = cast(dict[str, Any], (exchange.error or {}).get("details") or {})
    errors = cast(list[dict[str, Any]], details.get("errors") or [])
    return _invalid(exchange) and any(
        entry.get("loc", [None])[0] == "body" and entry.get("loc", [None])[-1] == name for entry in errors
    )


def _expiry_past(exchange: Exchange) -> bool:
    auth = _field(exchange, "auth")
    expires = cast(dict[str, Any], auth).get("expires_at") if isinstance(auth, dict) else None
    if not isinstance(expires, str):
        return False
    try:
        moment = datetime.fromisoformat(expires.replace("Z", "+00:00"))
    except ValueError:
        return False
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)) < datetime.now(UTC)


def _stale_precondition(exchange: Exchange) -> bool:
    """A memory update whose ``content_sha256`` precondition does not match: the hosted API's documented 409."""
    error = exchange.error or {}
    return (
        _sends("precondition")(exchange)
        and exchange.status == 409
        and error.get("type") == "memory_precondition_failed_error"
    )


def _sends_anthropic_skill(exchange: Exchange) -> bool:
    skills = _field(exchange, "skills")
    return isinstance(skills, list) and any(
        isinstance(skill, dict) and cast(dict[str, Any], skill).get("type") == "anthropic"
        for skill in cast(list[Any], skills)
    )


def _unnamed_skill_file(exchange: Exchange) -> bool:
    """A skill upload (``POST /v1/skills`` or ``…/versions``) with a ``files[]`` part that has no filename."""
    parts = cast(list[dict[str, Any]], _field(exchange, "multipart") or [])
    uploads = exchange.method == "POST" and SKILL_UPLOAD.fullmatch(exchange.path) is not None
    return uploads and any(part["name"] in ("files", "files[]") and not part["filename"] for part in parts)


def _placeholder(name: str, value: str, why: str) -> Refusal:
    query_is = _query_is(name, value)
    return Refusal(f"`{name}={value}`", why, lambda e: query_is(e) and _names_param(e, name))


def _unsupported(label: str, sent: Callable[[Exchange], bool], why: str) -> Refusal:
    return Refusal(label, why, lambda e: sent(e) and _invalid(e))


_README = "README.md, API surface: not supported yet, refused with a clear 400"

REFUSALS: list[Refusal] = [
    _placeholder("limit", "0", "a page holds 1 to the maximum number of items; 0 is outside the range"),
    _placeholder("version", "0", "agent versions are numbered from 1"),
    _placeholder("agent_version", "0", "agent versions are numbered from 1"),
    Refusal(
        '`page="page"`',
        "not a cursor the server issued: invalid cursors are a 400 (the SDK's pagination docstrings)",
        lambda e: _query_is("page", "page")(e) and _invalid(e),
    ),
    _placeholder(
        "expected_content_sha256",
        "expected_content_sha256",
        "a content hash is 64 lowercase hexadecimal characters (the SDK's `memories.delete` docstring)",
    ),
    Refusal(
        "memory `precondition` with a made-up `content_sha256`",
        "a precondition that does not match the memory's content is a 409 `memory_precondition_failed_error`"
        " (the SDK's `memories.update` docstring, api.md §12.1)",
        _stale_precondition,
    ),
    _unsupported(
        "Anthropic-provided agent `skills`",
        _sends_anthropic_skill,
        "README.md, Skills: Anthropic-provided skills (`xlsx`, `docx`, `pptx`, `pdf`) do not exist on this server,"
        " refused with a 400 naming them",
    ),
    _unsupported(
        "a skill file without a filename",
        _unnamed_skill_file,
        "a skill's files \"must be in the same top-level directory and must include a SKILL.md file at the root of"
        " that directory\" (the SDK's `skills.create` docstring): a part without a filename has no path, so no upload"
        " of such parts is a skill",
    ),
    _unsupported("agent `multiagent`", _sends("multiagent"), _README),
    _unsupported(
        "session `vault_ids` on update",
        lambda e: _sends("vault_ids")(e) and e.path != "/v1/sessions",
        'vaults attach at creation only: the hosted API rejects `vault_ids` on update ("Not yet supported")',
    ),
    Refusal(
        "credential `expires_at` in the past",
        "an access token's `expires_at` \"must be in the future\" (the SDK's credential params docstrings)",
        lambda e: _expiry_past(e) and _names_body_field(e, "expires_at"),
    ),
    Refusal(
        "session `budget` with a made-up amount or an unpriced model",
        "`max_list_cost.amount` is an integer string in minor units, and every model the session can run must have"
        " a list price, else `model_not_budgetable` (api.md §5.2; README.md, Budgets)",
        lambda e: _sends("budget")(e) and _invalid(e),
    ),
]


def documented_refusal(exchange: Exchange) -> Refusal | None:
    """The documented refusal ``exchange`` is, if it is one."""
    return next((refusal for refusal in REFUSALS if refusal.matches(exchange)), None)
