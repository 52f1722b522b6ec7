"""``metadata`` bags: at most 16 string pairs, keys 1–64 characters, values at most 512 (api.md §1.5).

Invariant: a bag that leaves this module is valid; anything else is a 400 ``invalid_metadata`` and nothing is
written.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from corral.catalog.limits import METADATA_KEY_MAX, METADATA_PAIRS, METADATA_VALUE_MAX
from corral.errors import ErrorCode, InvalidRequest


def _bad(message: str) -> InvalidRequest:
    return InvalidRequest(message, code=ErrorCode.INVALID_METADATA)


def _check_pair(key: Any, value: Any, *, allow_delete: bool) -> None:
    if not isinstance(key, str) or not 1 <= len(key) <= METADATA_KEY_MAX:
        raise _bad(f"metadata keys must be 1-{METADATA_KEY_MAX} characters")
    if value is None and allow_delete:
        return
    if not isinstance(value, str):
        raise _bad(f"metadata value for {key!r} must be a string")
    if len(value) > METADATA_VALUE_MAX:
        raise _bad(f"metadata value for {key!r} is longer than {METADATA_VALUE_MAX} characters")


def _check_size(bag: Mapping[str, Any]) -> None:
    if len(bag) > METADATA_PAIRS:
        raise _bad(f"metadata may hold at most {METADATA_PAIRS} pairs")


def check_metadata(bag: Any) -> dict[str, str]:
    """A whole bag, as sent on create."""
    if bag is None:
        return {}
    if not isinstance(bag, Mapping):
        raise _bad("metadata must be an object of string pairs")
    for key, value in bag.items():
        _check_pair(key, value, allow_delete=False)
    _check_size(bag)
    return dict(bag)


def check_patch(patch: Any) -> dict[str, str | None]:
    """A patch (update): string values upsert, null deletes."""
    if patch is None:
        return {}
    if not isinstance(patch, Mapping):
        raise _bad("metadata must be an object of string pairs")
    for key, value in patch.items():
        _check_pair(key, value, allow_delete=True)
    return dict(patch)


def patch_metadata(
    stored: Mapping[str, str], patch: Mapping[str, Any] | None, *, empty_deletes: bool = False
) -> dict[str, str]:
    """Apply ``patch`` to ``stored``; ``empty_deletes`` also deletes on ``""`` (environments)."""
    merged = dict(stored)
    for key, value in check_patch(patch).items():
        if value is None or (empty_deletes and value == ""):
            merged.pop(key, None)
        else:
            merged[key] = value
    _check_size(merged)
    return merged
