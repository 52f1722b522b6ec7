"""Content blocks of client events (the sessions variant; api.md §6.2)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from corral.wire import Strict


class TextBlock(Strict):
    type: Literal["text"]
    text: str


class Base64Source(Strict):
    type: Literal["base64"]
    media_type: str
    data: str


class URLSource(Strict):
    type: Literal["url"]
    url: str


class FileSource(Strict):
    type: Literal["file"]
    file_id: str


class PlainTextSource(Strict):
    type: Literal["text"]
    media_type: Literal["text/plain"]
    data: str


class ImageBlock(Strict):
    type: Literal["image"]
    source: Annotated[Base64Source | URLSource | FileSource, Field(discriminator="type")]


class DocumentBlock(Strict):
    type: Literal["document"]
    source: Annotated[Base64Source | PlainTextSource | URLSource | FileSource, Field(discriminator="type")]
    title: str | None = None
    context: str | None = None


class RedactedBlock(Strict):
    type: Literal["redacted"]


class Citations(Strict):
    enabled: bool


class SearchResultBlock(Strict):
    type: Literal["search_result"]
    source: str
    title: str
    content: list[TextBlock]
    citations: Citations


MessageBlock = Annotated[TextBlock | ImageBlock | DocumentBlock | RedactedBlock, Field(discriminator="type")]
ResultBlock = Annotated[TextBlock | ImageBlock | DocumentBlock | SearchResultBlock, Field(discriminator="type")]
