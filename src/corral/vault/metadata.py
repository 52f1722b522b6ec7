"""Patching ``metadata`` bags of vaults and credentials (api.md §1.5): strings upsert, null deletes.

Invariant: a bag that leaves this module holds at most 16 pairs; anything else is a 400 ``invalid_metadata``
and nothing is written. (The shape of each pair is checked where the request was parsed, ``params``.)
"""

from __future__ import annotations

from collections.abc import Mapping

from corral.errors import ErrorCode, InvalidRequest
from corral.vault.params import METADATA_PAIRS


def patch_metadata(stored: Mapping[str, str], patch: Mapping[str, str | None] | None) -> dict[str, str]:
    merged = dict(stored)
    for key, value in (patch or {}).items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    if len(merged) > METADATA_PAIRS:
        raise InvalidRequest(f"metadata may hold at most {METADATA_PAIRS} pairs", code=ErrorCode.INVALID_METADATA)
    return merged
