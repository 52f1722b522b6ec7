"""The base of every request model: unknown fields are refused (400), types are not coerced.

Invariant: a request body that validates here has the documented *shape*; the catalog and the session store
check the *meaning* (limits, references, state). Models are dumped with ``exclude_unset=True`` so that "field
omitted" and "field sent as null" stay distinguishable (omit = keep, null = clear on updates). Free-form JSON
(schemas, tool inputs) may hold anything JSON can, except ``NaN``/``Infinity`` (Python's parser accepts them,
JSON does not, and we would store something we could not send back).
"""

from __future__ import annotations

import math
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, model_validator


def _finite(value: Any) -> Any:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            raise ValueError("NaN and Infinity are not JSON")
        if isinstance(item, dict):
            stack.extend(item.values())  # type: ignore[arg-type]
        elif isinstance(item, list):
            stack.extend(item)  # type: ignore[arg-type]
    return value


FreeJSON = Annotated[Any, AfterValidator(_finite)]


def _whole(value: Any) -> Any:
    """JSON Schema counts ``12.0`` as an integer; strict pydantic would not."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


WholeNumber = Annotated[int, BeforeValidator(_whole)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)

    def sent(self) -> dict[str, Any]:
        """The fields the client actually sent (explicit nulls included), as plain JSON."""
        return self.model_dump(exclude_unset=True, mode="json")


class Open(BaseModel):
    """An object whose extra properties are part of the contract (JSON Schemas, tool inputs)."""

    model_config = ConfigDict(extra="allow", strict=True, allow_inf_nan=False)

    @model_validator(mode="after")
    def _extras_are_json(self) -> Open:
        _finite(self.model_extra or {})
        return self
