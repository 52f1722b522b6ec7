"""An agent's configuration: validated, resolved, and merged on update (api.md §3.2–§3.4, §5.2).

A *config* is the stored, resolved form: ``name, description, model, system, tools, mcp_servers, skills,
multiagent, execution_identity, metadata``. Inputs are plain JSON objects as sent by a client (the API has
already checked their shape); every semantic rule lives here.

Invariants:

* ``model`` is always the object form ``{id, effort: {type}, speed, inference_geo}``.
* A config that leaves this module satisfies every documented limit; anything else is a 400 and nothing is
  written.
* Update semantics: omit = keep; ``null`` (or ``""``/``[]`` where documented) = clear; arrays are replaced
  whole; ``metadata`` is a patch; ``model`` is replaced whole except that an omitted ``effort`` is kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from corral._types import JSONObject
from corral.catalog.limits import (
    DESCRIPTION_MAX,
    MODEL_ID_MAX,
    NAME_MAX,
    ROLE_ARN_MAX,
    SYSTEM_MAX,
    CatalogLimits,
)
from corral.catalog.metadata import check_metadata, patch_metadata
from corral.catalog.tools import resolve_mcp_servers, resolve_tools
from corral.errors import ErrorCode, InvalidRequest

EFFORTS = ("low", "medium", "high", "xhigh", "max")
DEFAULT_EFFORT = "high"
SPEEDS = ("standard", "fast")
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


def _effort(value: Any, fallback: JSONObject | None) -> JSONObject:
    if value is None:
        return dict(fallback) if fallback else {"type": DEFAULT_EFFORT}
    level = value.get("type") if isinstance(value, Mapping) else value
    if level not in EFFORTS:
        raise InvalidRequest(f"model.effort must be one of {', '.join(EFFORTS)}")
    return {"type": level}


def resolve_model(value: Any, stored: JSONObject | None = None) -> JSONObject:
    """``"id"`` or ``{id, effort?, speed?, inference_geo?}`` → the object form. ``stored`` supplies the effort."""
    if value is None:
        raise InvalidRequest("model is required and cannot be cleared", code=ErrorCode.AGENT_MODEL_REQUIRED)
    raw: Mapping[str, Any] = {"id": value} if isinstance(value, str) else value
    model_id = raw.get("id")
    if not isinstance(model_id, str) or not 1 <= len(model_id) <= MODEL_ID_MAX:
        raise InvalidRequest(f"model id must be 1-{MODEL_ID_MAX} characters")
    speed = raw.get("speed") or "standard"
    if speed not in SPEEDS:
        raise InvalidRequest(f"model.speed must be one of {', '.join(SPEEDS)}")
    geo = raw.get("inference_geo")
    if geo is not None and (not isinstance(geo, str) or not 1 <= len(geo) <= 64):
        raise InvalidRequest("model.inference_geo must be a short string")
    effort = _effort(raw.get("effort"), stored.get("effort") if stored else None)
    return {"id": model_id, "effort": effort, "speed": speed, "inference_geo": geo}


def _name(value: Any) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > NAME_MAX:
        raise InvalidRequest(f"name must be 1-{NAME_MAX} characters and not blank")
    return value


def _text(field: str, value: Any, limit: int) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise InvalidRequest(f"{field} must be a string of at most {limit} characters")
    return value


def _execution_identity(value: Any) -> JSONObject:
    if value is None or (isinstance(value, Mapping) and value.get("type") == "service_account"):
        return {"type": "service_account"}
    if isinstance(value, Mapping) and value.get("type") == "aws_role":
        arn = value.get("role_arn")
        if not isinstance(arn, str) or not 1 <= len(arn) <= ROLE_ARN_MAX:
            raise InvalidRequest(f"execution_identity.role_arn must be 1-{ROLE_ARN_MAX} characters")
        return {"type": "aws_role", "role_arn": arn}
    raise InvalidRequest("execution_identity.type must be 'service_account' or 'aws_role'")


def _unsupported(config: Mapping[str, Any]) -> None:
    if config.get("skills"):
        raise InvalidRequest("skills are not supported by this server yet", code=ErrorCode.NOT_SUPPORTED)
    if config.get("multiagent") is not None:
        raise InvalidRequest(
            "multiagent configurations are not supported by this server yet", code=ErrorCode.NOT_SUPPORTED
        )


def _tooling(config: JSONObject, limits: CatalogLimits) -> None:
    """Resolve ``mcp_servers`` then ``tools`` (which must reference them) in place."""
    config["mcp_servers"] = resolve_mcp_servers(config.get("mcp_servers"))
    config["tools"] = resolve_tools(config.get("tools"), config["mcp_servers"], limits.max_tools)


def resolve_create(params: Mapping[str, Any], limits: CatalogLimits) -> JSONObject:
    """The stored config of a new agent."""
    _unsupported(params)
    config: JSONObject = {
        "name": _name(params.get("name")),
        "description": _text("description", params.get("description"), DESCRIPTION_MAX),
        "model": resolve_model(params.get("model")),
        "system": _text("system", params.get("system"), SYSTEM_MAX),
        "tools": params.get("tools"),
        "mcp_servers": params.get("mcp_servers"),
        "skills": [],
        "multiagent": None,
        "execution_identity": _execution_identity(params.get("execution_identity")),
        "metadata": check_metadata(params.get("metadata")),
    }
    _tooling(config, limits)
    return config


def resolve_update(stored: Mapping[str, Any], params: Mapping[str, Any], limits: CatalogLimits) -> JSONObject:
    """The config after applying ``params`` (fields that are present) to ``stored``."""
    _unsupported(params)
    config: JSONObject = {field: stored.get(field) for field in CONFIG_FIELDS}
    if "name" in params:
        config["name"] = _name(params["name"])
    if "description" in params:
        config["description"] = _text("description", params["description"], DESCRIPTION_MAX)
    if "system" in params:
        config["system"] = _text("system", params["system"], SYSTEM_MAX)
    if "model" in params:
        config["model"] = resolve_model(params["model"], stored.get("model"))
    for field in ("tools", "mcp_servers"):
        if field in params:
            config[field] = params[field] or []
    if "skills" in params:
        config["skills"] = []
    if "multiagent" in params:
        config["multiagent"] = None
    if "execution_identity" in params:
        config["execution_identity"] = _execution_identity(params["execution_identity"])
    if "metadata" in params:
        config["metadata"] = patch_metadata(stored.get("metadata") or {}, params["metadata"])
    _tooling(config, limits)
    return config


def apply_overrides(snapshot: Mapping[str, Any], overrides: Mapping[str, Any], limits: CatalogLimits) -> JSONObject:
    """A session's ``agent_with_overrides`` (api.md §5.2): session-local replacements of a snapshot.

    An ``effort`` inside a model override is ignored (the agent's stays); ``system: null`` clears.
    """
    _unsupported(overrides)
    result = dict(snapshot)
    if "model" in overrides:
        model = resolve_model(overrides["model"])
        model["effort"] = dict(snapshot["model"]["effort"])
        result["model"] = model
    if "system" in overrides:
        result["system"] = _text("system", overrides["system"], SYSTEM_MAX)
    for field in ("tools", "mcp_servers"):
        if field in overrides:
            result[field] = overrides[field] or []
    _tooling(result, limits)
    return result
