"""Memory stores and memories as a client sends them (``MemoryStoreCreateParams`` … ``MemoryUpdateParams``,
api.md §12.1, api-types.md "Memory stores").

``corral.api`` declares these as request bodies (so ``/openapi.json`` documents them) and ``MemoryStores`` takes
them. Parsing enforces what one value decides (lengths, the hash's shape); a memory path's rules live in
``corral.memory.paths`` (their refusals carry their own code) and the size of a content in ``check_content``.

Invariants: unknown fields are refused and nothing is coerced; "omitted" and "sent as null" stay distinguishable
through ``model_fields_set``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from corral.errors import InvalidRequest
from corral.wire import Metadata, MetadataPatch, Strict

NAME_MAX = 255
DESCRIPTION_MAX = 1024
CONTENT_MAX_BYTES = 102_400
SHA256 = r"^[0-9a-f]{64}$"


def _no_controls(value: str) -> str:
    if any(ord(char) < 0x20 or 0x7F <= ord(char) < 0xA0 for char in value):
        raise ValueError("a name cannot hold control characters")
    return value


def _no_nul(value: str) -> str:
    # PostgreSQL text cannot hold U+0000: refused on both engines alike, never a 500
    if "\x00" in value:
        raise ValueError("cannot hold the NUL character (U+0000)")
    return value


Name = Annotated[str, Field(min_length=1, max_length=NAME_MAX), AfterValidator(_no_controls)]
Description = Annotated[str, Field(max_length=DESCRIPTION_MAX), AfterValidator(_no_nul)]
Sha256 = Annotated[str, Field(pattern=SHA256, description="64 lowercase hexadecimal characters")]


def check_content(content: str) -> str:
    """``content`` if it fits the 100 kB limit (in UTF-8 bytes) and holds no NUL, else a 400."""
    if "\x00" in content:
        raise InvalidRequest("content: cannot hold the NUL character (U+0000)")
    size = len(content.encode("utf-8"))
    if size > CONTENT_MAX_BYTES:
        raise InvalidRequest(f"content: at most {CONTENT_MAX_BYTES} bytes of UTF-8, got {size}")
    return content


class StoreCreate(Strict):
    name: Name
    description: Description | None = None
    metadata: Metadata | None = None


class StoreUpdate(Strict):
    name: Name | None = None
    description: Description | None = None
    metadata: MetadataPatch | None = None


class Precondition(Strict):
    type: Literal["content_sha256"]
    content_sha256: Sha256 | None = None


class MemoryCreate(Strict):
    path: str
    content: str | None


class MemoryUpdate(Strict):
    content: str | None = None
    path: str | None = None
    precondition: Precondition | None = None
