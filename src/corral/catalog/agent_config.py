"""An agent's configuration: resolved, and merged on update (api.md §3.2–§3.4, §5.2).

A *config* is the stored, resolved form: ``name, description, model, system, tools, mcp_servers, skills,
multiagent, execution_identity, metadata``. Inputs are typed request models (``corral.catalog.params``), so
every single value is valid already; this module refuses what corral does not support, checks what depends on
the stored config or on the operator's limits, and builds the stored form.

Invariants:

* ``model`` is always the object form ``{id, effort: {type}, speed, inference_geo}``.
* A config that leaves this module satisfies every documented limit; anything else is a 400 and nothing is
  written.
* Update semantics: omit = keep; ``null`` (or ``""``/``[]`` where documented) = clear; arrays are replaced
  whole; ``metadata`` is a patch; ``model`` is replaced whole except that an omitted ``effort`` is kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import TypeAdapter, ValidationError

from corral._types import JSONObject
from corral.catalog.agent_skills import resolve_skills
from corral.catalog.extensions import resolve_corral
from corral.catalog.limits import NAME_MAX, CatalogLimits
from corral.catalog.params.agents import (
    AgentCreate,
    AgentUpdate,
    AgentWithOverrides,
    ExecutionIdentity,
    ModelParam,
    SessionAgentUpdate,
)
from corral.catalog.params.tools import MCP_SERVERS, TOOLS
from corral.catalog.tools import resolve_mcp_servers, resolve_tools
from corral.config import split_model_id
from corral.errors import ErrorCode, InvalidRequest
from corral.vocab.options import DEFAULT_EFFORT, DEFAULT_SPEED, EffortLevel
from corral.wire import patch_metadata

CONFIG_FIELDS = (
    "name",
    "description",
    "model",
    "system",
    "tools",
    "mcp_servers",
    "skills",
    "multiagent",
    "execution_identity",
    "metadata",
)
#: the fields of a session's agent snapshot that come from the config (``BetaManagedAgentsSessionAgent``)
SNAPSHOT_FIELDS = tuple(field for field in CONFIG_FIELDS if field != "metadata")
#: corral's extension of an agent (``catalog.extensions``): stored, snapshotted and echoed only when set
CORRAL = "corral"
T = TypeVar("T")


def check_model_id(model_id: str, limits: CatalogLimits) -> None:
    """A model id must name a provider this deployment knows, and a model: a name cannot become valid by
    retrying, so it is refused when the agent is written rather than when a session runs."""
    provider, name = split_model_id(model_id)
    known = ", ".join(sorted(limits.providers))
    if not provider:
        raise InvalidRequest(
            f"model {model_id!r} names no provider: write claude-…, or <provider>:<model> with one of: {known}"
        )
    if provider not in limits.providers:
        raise InvalidRequest(f"model {model_id!r}: no provider {provider!r} is configured here (known: {known})")
    if not name:
        raise InvalidRequest(f"model {model_id!r} names the provider {provider!r} but no model")


def resolve_model(
    value: ModelParam | None, limits: CatalogLimits, stored: Mapping[str, Any] | None = None
) -> JSONObject:
    """A model id or ``{id, effort?, speed?, inference_geo?}`` → the object form; ``stored`` supplies the effort."""
    if value is None:
        raise InvalidRequest("model is required and cannot be cleared", code=ErrorCode.AGENT_MODEL_REQUIRED)
    check_model_id(value if isinstance(value, str) else value.id, limits)
    if isinstance(value, str):
        return {"id": value, "effort": _effort(None, stored), "speed": DEFAULT_SPEED, "inference_geo": None}
    level = value.effort if value.effort is None or isinstance(value.effort, str) else value.effort.type
    speed = value.speed or DEFAULT_SPEED
    return {"id": value.id, "effort": _effort(level, stored), "speed": speed, "inference_geo": value.inference_geo}


def _effort(level: EffortLevel | None, stored: Mapping[str, Any] | None) -> JSONObject:
    if level is not None:
        return {"type": level}
    fallback = stored.get("effort") if stored else None
    return dict(fallback) if fallback else {"type": DEFAULT_EFFORT}


def _name(value: str | None) -> str:
    if value is None:
        raise InvalidRequest(f"name must be 1-{NAME_MAX} characters and not blank")
    return value


def _text(value: str | None) -> str | None:
    """``""`` clears, like ``null``."""
    return value or None


def _execution_identity(value: ExecutionIdentity | None) -> JSONObject:
    if value is None or value.type == "service_account":
        return {"type": "service_account"}
    return {"type": value.type, "role_arn": value.role_arn}


def _stored(adapter: TypeAdapter[list[T]], value: object) -> list[T]:
    """A stored ``tools`` or ``mcp_servers`` list read back as parameters (JSON from storage)."""
    try:
        return adapter.validate_python(value or [])
    except ValidationError as exc:  # written under other rules: refuse the change rather than fail with a 500
        raise InvalidRequest(f"the stored tools no longer validate: {exc.errors()[0]['msg']}") from None


def _tooling(
    into: JSONObject,
    base: Mapping[str, Any],
    changes: AgentCreate | AgentUpdate | AgentWithOverrides | SessionAgentUpdate,
    limits: CatalogLimits,
) -> None:
    """Resolve ``mcp_servers`` then ``tools`` (which must reference them) into ``into``: those ``changes`` sent
    (null: none), else those of ``base``."""
    sent = changes.model_fields_set
    servers = (changes.mcp_servers or []) if "mcp_servers" in sent else _stored(MCP_SERVERS, base.get("mcp_servers"))
    tools = (changes.tools or []) if "tools" in sent else _stored(TOOLS, base.get("tools"))
    into["mcp_servers"] = resolve_mcp_servers(servers)
    into["tools"] = resolve_tools(tools, into["mcp_servers"], limits)


def resolve_create(params: AgentCreate, limits: CatalogLimits) -> JSONObject:
    """The stored config of a new agent; ``multiagent`` (resolved against storage) is the write flow's."""
    config: JSONObject = {
        "name": params.name,
        "description": _text(params.description),
        "model": resolve_model(params.model, limits),
        "system": _text(params.system),
        "tools": [],
        "mcp_servers": [],
        "skills": resolve_skills(params.skills),
        "multiagent": None,
        "execution_identity": _execution_identity(params.execution_identity),
        "metadata": dict(params.metadata or {}),
    }
    if params.corral is not None:
        config[CORRAL] = resolve_corral(params.corral)
    _tooling(config, {}, params, limits)
    return config


def resolve_update(stored: Mapping[str, Any], params: AgentUpdate, limits: CatalogLimits) -> JSONObject:
    """The config after applying the fields ``params`` carries to ``stored`` (``version`` is the caller's;
    a ``multiagent`` sent as an object is resolved against storage by the write flow, ``null`` clears it)."""
    sent = params.model_fields_set
    config: JSONObject = {field: stored.get(field) for field in CONFIG_FIELDS}
    if "name" in sent:
        config["name"] = _name(params.name)
    if "description" in sent:
        config["description"] = _text(params.description)
    if "system" in sent:
        config["system"] = _text(params.system)
    if "model" in sent:
        config["model"] = resolve_model(params.model, limits, stored.get("model"))
    if "skills" in sent:
        config["skills"] = resolve_skills(params.skills)
    if "multiagent" in sent:
        config["multiagent"] = None
    if "execution_identity" in sent:
        config["execution_identity"] = _execution_identity(params.execution_identity)
    if "metadata" in sent:
        config["metadata"] = patch_metadata(stored.get("metadata") or {}, params.metadata)
    _corral(config, stored, params)
    _tooling(config, stored, params, limits)
    return config


def _corral(config: JSONObject, stored: Mapping[str, Any], params: AgentUpdate) -> None:
    """omit = keep, ``null`` = clear (the key is then absent, as on an agent that never set it)."""
    if "corral" in params.model_fields_set:
        if params.corral is not None:
            config[CORRAL] = resolve_corral(params.corral)
    elif stored.get(CORRAL) is not None:
        config[CORRAL] = stored[CORRAL]


def apply_overrides(snapshot: Mapping[str, Any], overrides: AgentWithOverrides, limits: CatalogLimits) -> JSONObject:
    """A session's ``agent_with_overrides`` (api.md §5.2): session-local replacements of a snapshot.

    An ``effort`` inside a model override is ignored (the agent's stays); ``system: null`` clears; clearing
    ``tools`` while skills remain is a 400 (a skill is files the agent reads with its tools).
    """
    sent = overrides.model_fields_set
    result = dict(snapshot)
    if "model" in sent:
        result["model"] = _session_model(snapshot, overrides.model, limits)
    if "system" in sent:
        result["system"] = _text(overrides.system)
    if "skills" in sent:
        result["skills"] = resolve_skills(overrides.skills)
    _tooling(result, snapshot, overrides, limits)
    if "tools" in sent and not result["tools"] and result.get("skills"):
        raise InvalidRequest(
            "agent.tools: the tools cannot be cleared while the agent has skills (skills are files the agent reads"
            " with its tools); clear skills too, or keep a toolset"
        )
    return result


def _session_model(snapshot: Mapping[str, Any], model: ModelParam | None, limits: CatalogLimits) -> JSONObject:
    """A session-local model: the agent's ``effort`` stays (an override's is ignored, api.md §5.2)."""
    resolved = resolve_model(model, limits)
    resolved["effort"] = dict(snapshot["model"]["effort"])
    return resolved


def replace_tooling(snapshot: Mapping[str, Any], changes: SessionAgentUpdate, limits: CatalogLimits) -> JSONObject:
    """A session's agent snapshot with the ``tools``/``mcp_servers`` of ``changes`` (``POST /v1/sessions/{id}``),
    and its ``model`` (a corral extension: the session's next turn runs on that model, on any provider)."""
    result = dict(snapshot)
    if "model" in changes.model_fields_set:
        result["model"] = _session_model(snapshot, changes.model, limits)
    _tooling(result, snapshot, changes, limits)
    return result
