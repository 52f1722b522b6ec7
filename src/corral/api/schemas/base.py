"""The base of every request model: unknown fields are refused (400), types are not coerced.

Invariant: a request body that validates here has the documented *shape*; the catalog and the session store
check the *meaning* (limits, references, state). Models are dumped with ``exclude_unset=True`` so that "field
omitted" and "field sent as null" stay distinguishable (omit = keep, null = clear on updates).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    def sent(self) -> dict[str, Any]:
        """The fields the client actually sent (explicit nulls included), as plain JSON."""
        return self.model_dump(exclude_unset=True, mode="json")


class Open(BaseModel):
    """An object whose extra properties are part of the contract (JSON Schemas, tool inputs)."""

    model_config = ConfigDict(extra="allow", strict=True)
