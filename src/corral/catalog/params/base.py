"""What the catalog's request models build on, beside ``corral.wire``'s ``Strict`` base (unknown fields are
refused with a 400, types are not coerced) and metadata bags.

Invariant: a request body that validates here has the documented *shape*, every limit that depends on one value
alone included (lengths, patterns, ranges, enumerations); the catalog and the session store check only what a
schema cannot say (rules across fields, limits an operator configures, the state of what is stored). Which
fields a client sent is ``model_fields_set``: "field omitted" and "field sent as null" stay distinguishable
(omit = keep, null = clear on updates). Free-form JSON (schemas, tool inputs) may hold anything JSON can,
except ``NaN``/``Infinity`` (Python's parser accepts them, JSON does not, and we would store something we could
not send back).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated, Any, LiteralString, cast

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    GetCoreSchemaHandler,
    ValidationError,
    model_validator,
)
from pydantic_core import CoreSchema, PydanticCustomError, core_schema


def _finite(value: Any) -> Any:
    stack: list[object] = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            raise ValueError("NaN and Infinity are not JSON")
        if isinstance(item, dict):
            stack.extend(cast(dict[str, object], item).values())
        elif isinstance(item, list):
            stack.extend(cast(list[object], item))
    return value


FreeJSON = Annotated[Any, AfterValidator(_finite)]


def _whole(value: Any) -> Any:
    """JSON Schema counts ``12.0`` as an integer; strict pydantic would not."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


WHOLE = BeforeValidator(_whole)
"""For ``int`` fields, placed after any bounds (``Annotated[int, Field(ge=1), WHOLE]``): bounds placed after a
validator are documented as ``ge``/``le`` instead of JSON Schema's ``minimum``/``maximum``."""


def refuse(message: LiteralString, value: object, kind: LiteralString = "value_error") -> PydanticCustomError:
    """A validation error whose message names the value (``{value}`` in ``message``)."""
    return PydanticCustomError(kind, message, {"value": repr(value)})


@dataclass(frozen=True)
class Matches:
    """Field metadata: a string must match ``pattern`` (the schema's ``pattern``, searched as JSON Schema does); a
    miss is reported as ``message`` rather than as the bare regular expression."""

    pattern: str
    message: LiteralString

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        inner = handler(source)
        if inner["type"] != "str":
            raise TypeError("Matches applies to strings")
        inner["pattern"] = self.pattern

        def check(value: Any, validate: core_schema.ValidatorFunctionWrapHandler) -> Any:
            try:
                return validate(value)
            except ValidationError as exc:
                if exc.errors()[0]["type"] == "string_pattern_mismatch":
                    raise refuse(self.message, value, "string_pattern_mismatch") from None
                raise

        return core_schema.no_info_wrap_validator_function(check, inner)


NOT_BLANK = Matches(r"\S", "{value} is blank")


def _no_nul(value: str) -> str:
    # for a string stored in a column of its own: PostgreSQL text cannot hold U+0000 (a JSON document escapes it),
    # so it is refused on both engines alike, never a 500
    if "\x00" in value:
        raise refuse("{value} holds the NUL character (U+0000)", value)
    return value


NO_NUL = AfterValidator(_no_nul)


def _json_kind(value: Any) -> str:
    return "string" if isinstance(value, str) else "object"


BY_JSON_TYPE = Discriminator(_json_kind)
"""Picks the branch of a ``string | object`` union by the value's JSON type (tags ``string`` and ``object``), so a
bad object is reported by its own fields, not as "not a string" first."""


class Open(BaseModel):
    """An object whose extra properties are part of the contract (JSON Schemas, tool inputs)."""

    model_config = ConfigDict(extra="allow", strict=True, allow_inf_nan=False)

    @model_validator(mode="after")
    def _extras_are_json(self) -> Open:
        _finite(self.model_extra or {})
        return self
