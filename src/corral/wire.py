"""What every resource's request models share (api.md §1.5): the strict base model and ``metadata`` bags.

The catalog (agents, environments) and the vault (vaults, credentials) may not import each other; both take these
from here, so a metadata rule or the meaning of "strict" is written once.

Invariants: a ``Strict`` model refuses unknown fields and coerces nothing, and which fields a client sent stays
``model_fields_set`` ("omitted" keeps, "sent as null" clears on updates). A bag that leaves ``patch_metadata``
holds at most ``METADATA_PAIRS`` pairs; anything else is a 400 ``invalid_metadata`` and nothing is written.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from corral.errors import ErrorCode, InvalidRequest

METADATA_PAIRS = 16
METADATA_KEY_MAX = 64
METADATA_VALUE_MAX = 512


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)

    def sent(self) -> dict[str, Any]:
        """The fields the client actually sent (explicit nulls included), as plain JSON."""
        return self.model_dump(exclude_unset=True, mode="json")


MetadataKey = Annotated[str, Field(min_length=1, max_length=METADATA_KEY_MAX)]
MetadataValue = Annotated[str, Field(max_length=METADATA_VALUE_MAX)]
Metadata = Annotated[dict[MetadataKey, MetadataValue], Field(max_length=METADATA_PAIRS)]
"""A whole bag (create): at most 16 string pairs."""
MetadataPatch = dict[MetadataKey, MetadataValue | None]
"""An update's bag: a string upserts, null deletes."""


def patch_metadata(
    stored: Mapping[str, str], patch: Mapping[str, str | None] | None, *, empty_deletes: bool = False
) -> dict[str, str]:
    """Apply ``patch`` to ``stored``: strings upsert, null deletes; ``empty_deletes`` also deletes on ``""``
    (environments). Only the merged bag's size is checked here: each pair's shape was the request model's."""
    merged = dict(stored)
    for key, value in (patch or {}).items():
        if value is None or (empty_deletes and value == ""):
            merged.pop(key, None)
        else:
            merged[key] = value
    if len(merged) > METADATA_PAIRS:
        raise InvalidRequest(f"metadata may hold at most {METADATA_PAIRS} pairs", code=ErrorCode.INVALID_METADATA)
    return merged
