"""An environment's ``config``, fully resolved (api.md §4.1–§4.2), plus corral's extension.

Resolved forms::

    {"type": "self_hosted"}
    {"type": "cloud",
     "networking": {"type": "unrestricted"} | {"type": "limited", "allowed_hosts": [...],
                                              "allow_mcp_servers": bool, "allow_package_managers": bool},
     "packages": {"type": "packages", "apt": [], "cargo": [], "gem": [], "go": [], "npm": [], "pip": []},
     "corral": {"warm_pool_size"?: 0-32, "provisioning"?: "lazy" | "speculative" | "eager"}}   # optional

The ``corral`` object is a corral extension read by the sandbox provider; it is stored and echoed exactly as
given (fields left out fall back to the server's settings), and absent unless a client sent it.

Inputs are typed (``corral.catalog.params.environments``): every single value is valid already.

Invariants: a missing config resolves to unrestricted cloud; on update omitted fields keep their stored
values and ``config.type`` never changes (400 ``invalid_config_type_change``); under ``limited`` networking,
packages require ``allow_package_managers``.
"""

from __future__ import annotations

from typing import Any

from corral._types import JSONObject
from corral.catalog.params.environments import (
    CloudConfigParams,
    ConfigParams,
    CorralSandboxParams,
    LimitedNetwork,
    PackagesParams,
    UnrestrictedNetwork,
)
from corral.errors import ErrorCode, InvalidRequest
from corral.vocab.options import PACKAGE_MANAGERS

_LIMITED_FLAGS = ("allow_mcp_servers", "allow_package_managers")


def _limited_base(stored: JSONObject | None) -> JSONObject:
    if stored and stored.get("type") == "limited":
        return {key: stored[key] for key in ("allowed_hosts", *_LIMITED_FLAGS)}
    return {"allowed_hosts": [], "allow_mcp_servers": False, "allow_package_managers": False}


def _networking(raw: UnrestrictedNetwork | LimitedNetwork | None, stored: JSONObject | None) -> JSONObject:
    if raw is None:
        return stored or {"type": "unrestricted"}
    if isinstance(raw, UnrestrictedNetwork):
        return {"type": raw.type}
    resolved: JSONObject = {"type": raw.type, **_limited_base(stored)}
    if raw.allowed_hosts is not None:
        resolved["allowed_hosts"] = list(raw.allowed_hosts)
    if raw.allow_mcp_servers is not None:
        resolved["allow_mcp_servers"] = raw.allow_mcp_servers
    if raw.allow_package_managers is not None:
        resolved["allow_package_managers"] = raw.allow_package_managers
    return resolved


def _packages(raw: PackagesParams | None, stored: JSONObject | None) -> JSONObject:
    resolved: JSONObject = {"type": "packages", **{m: list((stored or {}).get(m) or []) for m in PACKAGE_MANAGERS}}
    if raw is None:
        return resolved
    for manager in PACKAGE_MANAGERS:
        specs: list[str] | None = getattr(raw, manager)
        if specs is not None:
            resolved[manager] = list(specs)
    return resolved


def _corral(raw: CorralSandboxParams, stored: JSONObject | None) -> JSONObject:
    resolved: JSONObject = dict(stored or {})
    if raw.warm_pool_size is not None:
        resolved["warm_pool_size"] = raw.warm_pool_size
    if raw.provisioning is not None:
        resolved["provisioning"] = raw.provisioning
    return resolved


def _cloud(raw: CloudConfigParams, stored: JSONObject | None) -> JSONObject:
    previous: JSONObject = stored or {}
    resolved: JSONObject = {
        "type": raw.type,
        "networking": _networking(raw.networking, previous.get("networking")),
        "packages": _packages(raw.packages, previous.get("packages")),
    }
    if "corral" in raw.model_fields_set:
        if raw.corral is not None:
            resolved["corral"] = _corral(raw.corral, previous.get("corral"))
    elif "corral" in previous:
        resolved["corral"] = previous["corral"]
    _check_packages_reachable(resolved)
    return resolved


def _check_packages_reachable(resolved: JSONObject) -> None:
    network: dict[str, Any] = resolved["networking"]
    has_packages = any(resolved["packages"][m] for m in PACKAGE_MANAGERS)
    if network["type"] == "limited" and has_packages and not network["allow_package_managers"]:
        raise InvalidRequest("packages under limited networking require networking.allow_package_managers: true")


def resolve_config(raw: ConfigParams | None, stored: JSONObject | None = None) -> JSONObject:
    """Resolve a create (``stored`` None) or an update of ``stored``."""
    if raw is None:
        return stored if stored is not None else _cloud(CloudConfigParams(type="cloud"), None)
    if stored is not None and stored["type"] != raw.type:
        raise InvalidRequest(
            f"an environment's config.type cannot change ({stored['type']} → {raw.type})",
            code=ErrorCode.INVALID_CONFIG_TYPE_CHANGE,
        )
    if isinstance(raw, CloudConfigParams):
        return _cloud(raw, stored)
    return {"type": raw.type}
