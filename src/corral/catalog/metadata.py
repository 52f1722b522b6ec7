"""Patching ``metadata`` bags (api.md §1.5).

Each pair's shape (keys 1–64 characters, values at most 512) and a whole bag's size are the request models'
(``corral.catalog.params.base``). What only the catalog can check is the size of a bag *after* a patch merged
into what is stored.

Invariant: a bag that leaves this module holds at most 16 pairs; anything else is a 400 ``invalid_metadata``
and nothing is written.
"""

from __future__ import annotations

from collections.abc import Mapping

from corral.catalog.limits import METADATA_PAIRS
from corral.errors import ErrorCode, InvalidRequest


def patch_metadata(
    stored: Mapping[str, str], patch: Mapping[str, str | None] | None, *, empty_deletes: bool = False
) -> dict[str, str]:
    """Apply ``patch`` to ``stored``: strings upsert, null deletes; ``empty_deletes`` also deletes on ``""``
    (environments)."""
    merged = dict(stored)
    for key, value in (patch or {}).items():
        if value is None or (empty_deletes and value == ""):
            merged.pop(key, None)
        else:
            merged[key] = value
    if len(merged) > METADATA_PAIRS:
        raise InvalidRequest(f"metadata may hold at most {METADATA_PAIRS} pairs", code=ErrorCode.INVALID_METADATA)
    return merged
