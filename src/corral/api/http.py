"""Small helpers shared by the routes: the caller's context, fast JSON responses, common query parameters.

Invariant: a route learns its workspace only from ``context(request)``, which the gate filled in after
authentication; nothing else decides which workspace a request acts on.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Query, Request
from pydantic import BeforeValidator
from starlette.responses import Response

from corral.catalog import Principal
from corral.compose.services import Services
from corral.errors import NotFound
from corral.ids import is_id, rfc3339
from corral.paging import Page

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode

Limit100 = Annotated[int, Query(ge=1, le=100, description="Maximum results per page.")]
PageToken = Annotated[str | None, Query(description="Opaque cursor from a previous response (empty: first page).")]
IncludeArchived = Annotated[bool, Query(description="Include archived objects.")]


class JSONBytes(Response):
    media_type = "application/json"


def json_response(value: Any, status: int = 200) -> JSONBytes:
    return JSONBytes(_dumps(value).encode(), status_code=status)


def raw_json_response(body: str, status: int = 200) -> JSONBytes:
    """A body already serialised (e.g. events' ``wire_json``)."""
    return JSONBytes(body.encode(), status_code=status)


def context(request: Request) -> tuple[Services, str]:
    """``(services, workspace_id)`` of the authenticated caller."""
    principal: Principal = request.scope["state"]["principal"]
    return request.app.state.services, principal.workspace_id


def page_json(page: Page, items: list[Any]) -> JSONBytes:
    return json_response({"data": items, "next_page": page.next_page})


_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}")


def _rfc3339_only(value: Any) -> Any:
    """Query timestamps must be RFC 3339 text (pydantic alone would also take numbers as epoch seconds)."""
    if isinstance(value, str) and _ISO.match(value):
        return value
    raise ValueError("expected an RFC 3339 timestamp such as 2026-01-01T00:00:00Z")


Timestamp = Annotated[datetime, BeforeValidator(_rfc3339_only)]


def stamp(moment: datetime | None) -> str | None:
    """A query timestamp (any ISO 8601 form) in the stored form, so text comparison orders like time."""
    if moment is None:
        return None
    return rfc3339(moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC))


def check_id(kind: str, value: str, noun: str) -> str:
    """Path ids of the wrong kind name nothing here: 404 without touching the database."""
    if not is_id(kind, value):
        raise NotFound(f"{noun} {value} not found")
    return value
