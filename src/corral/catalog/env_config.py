"""An environment's ``config``: validated and fully resolved (api.md §4.1–§4.2), plus corral's extension.

Resolved forms::

    {"type": "self_hosted"}
    {"type": "cloud",
     "networking": {"type": "unrestricted"} | {"type": "limited", "allowed_hosts": [...],
                                              "allow_mcp_servers": bool, "allow_package_managers": bool},
     "packages": {"type": "packages", "apt": [], "cargo": [], "gem": [], "go": [], "npm": [], "pip": []},
     "corral": {"warm_pool_size"?: 0-32, "provisioning"?: "lazy" | "speculative" | "eager"}}   # optional

The ``corral`` object is a corral extension read by the sandbox provider; it is stored and echoed exactly as
given (fields left out fall back to the server's settings), and absent unless a client sent it.

Invariants: a missing config resolves to unrestricted cloud; on update omitted fields keep their stored
values and ``config.type`` never changes (400 ``invalid_config_type_change``); under ``limited`` networking,
packages require ``allow_package_managers``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from corral._types import JSONObject
from corral.catalog.limits import ALLOWED_HOSTS_MAX, PACKAGE_SPEC_MAX, PACKAGES_MAX, WARM_POOL_MAX
from corral.errors import ErrorCode, InvalidRequest

MANAGERS = ("apt", "cargo", "gem", "go", "npm", "pip")
PROVISIONING = ("lazy", "speculative", "eager")
_HOST = re.compile(r"^(\*\.)?[A-Za-z0-9]([A-Za-z0-9.-]{0,252})(:\d{1,5})?$")
_LIMITED_DEFAULTS: JSONObject = {"allowed_hosts": [], "allow_mcp_servers": False, "allow_package_managers": False}


def _hosts(value: Any) -> list[str]:
    if not isinstance(value, list) or len(value) > ALLOWED_HOSTS_MAX:
        raise InvalidRequest(f"networking.allowed_hosts must list at most {ALLOWED_HOSTS_MAX} hosts")
    for host in value:
        if not isinstance(host, str) or not _HOST.match(host):
            raise InvalidRequest(f"networking.allowed_hosts: {host!r} is not a hostname (no scheme or path)")
    return list(value)


def _flag(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise InvalidRequest(f"networking.{name} must be a boolean")
    return value


def _networking(raw: Any, stored: JSONObject | None) -> JSONObject:
    if raw is None:
        return stored or {"type": "unrestricted"}
    kind = raw.get("type") if isinstance(raw, Mapping) else None
    if kind == "unrestricted":
        return {"type": "unrestricted"}
    if kind != "limited":
        raise InvalidRequest("networking.type must be 'unrestricted' or 'limited'")
    base = stored if stored and stored.get("type") == "limited" else _LIMITED_DEFAULTS
    resolved: JSONObject = {"type": "limited", **{k: base[k] for k in _LIMITED_DEFAULTS}}
    if raw.get("allowed_hosts") is not None:
        resolved["allowed_hosts"] = _hosts(raw["allowed_hosts"])
    for flag in ("allow_mcp_servers", "allow_package_managers"):
        if raw.get(flag) is not None:
            resolved[flag] = _flag(flag, raw[flag])
    return resolved


def _packages(raw: Any, stored: JSONObject | None) -> JSONObject:
    resolved: JSONObject = {"type": "packages", **{m: list((stored or {}).get(m) or []) for m in MANAGERS}}
    if raw is None:
        return resolved
    if not isinstance(raw, Mapping) or raw.get("type") not in (None, "packages"):
        raise InvalidRequest("packages must be an object with type 'packages'")
    for manager in MANAGERS:
        specs = raw.get(manager)
        if specs is None:
            continue
        if not isinstance(specs, list) or len(specs) > PACKAGES_MAX:
            raise InvalidRequest(f"packages.{manager} must list at most {PACKAGES_MAX} packages")
        for spec in specs:
            if not isinstance(spec, str) or not 1 <= len(spec) <= PACKAGE_SPEC_MAX or spec.strip() != spec:
                raise InvalidRequest(f"packages.{manager}: {spec!r} is not a package specifier")
        resolved[manager] = list(specs)
    return resolved


def _corral(raw: Any, stored: JSONObject | None) -> JSONObject:
    if not isinstance(raw, Mapping):
        raise InvalidRequest("config.corral must be an object")
    resolved: JSONObject = dict(stored or {})
    unknown = set(raw) - {"warm_pool_size", "provisioning"}
    if unknown:
        raise InvalidRequest(f"config.corral: unknown fields {sorted(unknown)}")
    size = raw.get("warm_pool_size")
    if size is not None:
        if isinstance(size, bool) or not isinstance(size, int) or not 0 <= size <= WARM_POOL_MAX:
            raise InvalidRequest(f"config.corral.warm_pool_size must be an integer 0-{WARM_POOL_MAX}")
        resolved["warm_pool_size"] = size
    mode = raw.get("provisioning")
    if mode is not None:
        if mode not in PROVISIONING:
            raise InvalidRequest(f"config.corral.provisioning must be one of {', '.join(PROVISIONING)}")
        resolved["provisioning"] = mode
    return resolved


def _cloud(raw: Mapping[str, Any], stored: JSONObject | None) -> JSONObject:
    resolved: JSONObject = {
        "type": "cloud",
        "networking": _networking(raw.get("networking"), (stored or {}).get("networking")),
        "packages": _packages(raw.get("packages"), (stored or {}).get("packages")),
    }
    if "corral" in raw:
        if raw["corral"] is not None:
            resolved["corral"] = _corral(raw["corral"], (stored or {}).get("corral"))
    elif stored and "corral" in stored:
        resolved["corral"] = stored["corral"]
    network = resolved["networking"]
    has_packages = any(resolved["packages"][m] for m in MANAGERS)
    if network["type"] == "limited" and has_packages and not network["allow_package_managers"]:
        raise InvalidRequest("packages under limited networking require networking.allow_package_managers: true")
    return resolved


def resolve_config(raw: Mapping[str, Any] | None, stored: JSONObject | None = None) -> JSONObject:
    """Resolve a create (``stored`` None) or an update of ``stored``."""
    if raw is None:
        return stored if stored is not None else _cloud({}, None)
    kind = raw.get("type")
    if kind not in ("cloud", "self_hosted"):
        raise InvalidRequest("config.type must be 'cloud' or 'self_hosted'")
    if stored is not None and stored["type"] != kind:
        raise InvalidRequest(
            f"an environment's config.type cannot change ({stored['type']} → {kind})",
            code=ErrorCode.INVALID_CONFIG_TYPE_CHANGE,
        )
    if kind == "self_hosted":
        if set(raw) - {"type"}:
            raise InvalidRequest("a self_hosted config has no other fields")
        return {"type": "self_hosted"}
    return _cloud(raw, stored)
