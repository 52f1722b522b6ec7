"""Shared type aliases and the narrowing of untrusted JSON. A leaf: imports nothing from corral.

JSON parsed from outside (a request body that no schema covers, a stored payload, a provider's reply, a config
file) is ``object`` until it is narrowed; ``json_object`` / ``json_list`` are the one place where an
``isinstance`` check turns it into a typed container, so the rest of the code never handles ``Unknown``.
"""

from __future__ import annotations

from typing import Any, TypeAlias, cast

JSONObject: TypeAlias = dict[str, Any]


def json_object(value: object) -> JSONObject | None:
    """``value`` as a JSON object (a ``dict`` with string keys, as every JSON parser makes them), or None."""
    return cast(JSONObject, value) if isinstance(value, dict) else None


def json_list(value: object) -> list[Any] | None:
    """``value`` as a JSON array, or None."""
    return cast(list[Any], value) if isinstance(value, list) else None
