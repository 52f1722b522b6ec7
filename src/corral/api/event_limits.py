"""The limits on what one ``POST /v1/sessions/{id}/events`` may send, and the guard of each event stream.

Invariants: an over-limit request is refused before anything is appended (the check runs before the session is
touched), in the API's error shape: too many events is a 400, an event larger than ``max_event_bytes`` (its JSON)
a 413. A stream's guard counts it against its key (``corral.api.limits.KeyStreams``).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

from fastapi import Request
from pydantic import BaseModel

from corral.api.limits import KeyStreams, StreamGuard
from corral.catalog import Principal
from corral.compose.services import Services
from corral.config import Settings
from corral.errors import InvalidRequest, RequestTooLarge


def check_event_sizes(settings: Settings, events: Sequence[BaseModel], body_bytes: int | None = None) -> None:
    """Refuse a request with too many events, or with one event larger than the limit."""
    if len(events) > settings.max_events_per_request:
        raise InvalidRequest(
            f"{len(events)} events in one request: at most {settings.max_events_per_request} may be sent at once"
        )
    if body_bytes is not None and body_bytes <= settings.max_event_bytes:
        return  # no event is larger than the whole body
    for index, event in enumerate(events):
        size = len(event.model_dump_json(exclude_unset=True).encode())
        if size > settings.max_event_bytes:
            raise RequestTooLarge(
                f"events[{index}] is {size} bytes: an event may be at most {settings.max_event_bytes} bytes"
                " (send large content as a file)"
            )


def body_length(request: Request) -> int | None:
    length = request.headers.get("content-length")
    return int(length) if length is not None and length.isdigit() else None


def stream_guard(request: Request) -> StreamGuard:
    """The guard of a stream opened by the request's key (admitted when the stream starts)."""
    principal: Principal = request.scope["state"]["principal"]
    services: Services = request.app.state.services
    streams: KeyStreams = request.app.state.key_streams
    if principal.key_id is None:
        return streams.guard(principal, _never_revoked)
    return streams.guard(principal, partial(services.catalog.key_is_live, principal.key_id))


async def _never_revoked() -> bool:
    return True
