"""A ``multipart/form-data`` body read as it arrives (python-multipart's streaming parser), never whole.

``form_events(request)`` yields, in body order: a ``Part`` when a part's headers are complete, then that part's
data as ``bytes`` chunks (each at most one received chunk long), then ``None`` when the part ends. After a
``Part``, ``part_data(events)`` yields the part's chunks and ``part_text(events, name)`` reads a small text field.
A body that is not multipart, has no boundary, or ends before its closing boundary is a 400. Memory: one received
chunk and one part's headers (at most ``MAX_HEADER_BYTES``) at a time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from corral.errors import InvalidRequest

MAX_HEADER_BYTES = 16 * 1024
MAX_FIELD_BYTES = 1024


@dataclass(frozen=True)
class Part:
    name: str
    filename: str | None
    content_type: str | None


Event = Part | bytes | None


def _boundary(request: Request) -> bytes:
    kind, params = parse_options_header(request.headers.get("content-type"))
    boundary = params.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise InvalidRequest("expected a multipart/form-data body with a boundary")
    return boundary


class _Collector:
    """The parser's callbacks, turned into a list of events for the chunk just fed."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.ended = False
        self._headers: dict[str, str] = {}
        self._field = bytearray()
        self._value = bytearray()
        self._header_bytes = 0

    def _grow(self, target: bytearray, data: bytes, start: int, end: int) -> None:
        self._header_bytes += end - start
        if self._header_bytes > MAX_HEADER_BYTES:
            raise InvalidRequest(f"a multipart part's headers are longer than {MAX_HEADER_BYTES} bytes")
        target += data[start:end]

    def on_part_begin(self) -> None:
        self._headers, self._header_bytes = {}, 0

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._grow(self._field, data, start, end)

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._grow(self._value, data, start, end)

    def on_header_end(self) -> None:
        # latin-1 keeps the bytes as they came (the parser of Content-Disposition wants latin-1 text); a UTF-8
        # filename is decoded from those bytes below
        self._headers[self._field.decode("latin-1").lower()] = self._value.decode("latin-1")
        self._field.clear()
        self._value.clear()

    def on_headers_finished(self) -> None:
        _, params = parse_options_header(self._headers.get("content-disposition"))
        name = params.get(b"name")
        if name is None:
            raise InvalidRequest("a multipart part has no Content-Disposition name")
        filename = params.get(b"filename")
        self.events.append(
            Part(
                name=name.decode("utf-8", "replace"),
                filename=None if filename is None else filename.decode("utf-8", "replace"),
                content_type=self._headers.get("content-type"),
            )
        )

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if end > start:
            self.events.append(data[start:end])

    def on_part_end(self) -> None:
        self.events.append(None)

    def on_end(self) -> None:
        self.ended = True


async def form_events(request: Request) -> AsyncIterator[Event]:
    collector = _Collector()
    parser = MultipartParser(
        _boundary(request),
        callbacks={
            "on_part_begin": collector.on_part_begin,
            "on_header_field": collector.on_header_field,
            "on_header_value": collector.on_header_value,
            "on_header_end": collector.on_header_end,
            "on_headers_finished": collector.on_headers_finished,
            "on_part_data": collector.on_part_data,
            "on_part_end": collector.on_part_end,
            "on_end": collector.on_end,
        },
    )
    async for chunk in request.stream():
        try:
            parser.write(chunk)
        except MultipartParseError as error:
            raise InvalidRequest(f"malformed multipart body: {error}") from None
        for event in collector.events:
            yield event
        collector.events.clear()
    if not collector.ended:
        raise InvalidRequest("the multipart body ended before its closing boundary")


async def part_text(events: AsyncIterator[Event], name: str) -> str:
    """The current part's value as text (a form field: at most ``MAX_FIELD_BYTES``)."""
    value = bytearray()
    while (event := await anext(events)) is not None:
        if isinstance(event, Part):
            raise InvalidRequest("malformed multipart body")
        value += event
        if len(value) > MAX_FIELD_BYTES:
            raise InvalidRequest(f"{name}: a form field longer than {MAX_FIELD_BYTES} bytes")
    return value.decode("utf-8", "replace")


async def part_data(events: AsyncIterator[Event]) -> AsyncIterator[bytes]:
    """The current part's bytes, up to its end."""
    while (event := await anext(events)) is not None:
        if isinstance(event, Part):
            raise InvalidRequest("malformed multipart body")
        yield event
