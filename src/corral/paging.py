"""Opaque page cursors: ``page_<base64url(json)>``.

A cursor carries the keyset position, the direction and the ``order`` it was made for; reusing it with
another order, or sending anything that is not a cursor we made, is a 400 ``invalid_cursor``.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any, Literal

from corral._types import json_list, json_object
from corral.errors import ErrorCode, InvalidRequest

Direction = Literal["next", "prev"]


@dataclass(frozen=True)
class Cursor:
    key: list[Any]
    direction: Direction
    order: str
    scope: str

    def encode(self) -> str:
        raw = json.dumps({"k": self.key, "d": self.direction, "o": self.order, "s": self.scope}, separators=(",", ":"))
        return "page_" + base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(token: str, *, order: str, scope: str) -> Cursor:
    """Parse a cursor made for ``scope`` (e.g. ``"sessions"``) and ``order``; 400 otherwise."""
    bad = InvalidRequest("invalid or expired page cursor", code=ErrorCode.INVALID_CURSOR)
    if not token.startswith("page_") or len(token) > 2048:
        raise bad
    body = token[5:]
    try:
        data = json_object(json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise bad from None
    if data is None or set(data) != {"k", "d", "o", "s"}:
        raise bad
    key, direction = json_list(data["k"]), data["d"]
    if data["s"] != scope or direction not in ("next", "prev") or key is None:
        raise bad
    if data["o"] != order:
        raise InvalidRequest("page cursor was created with a different order", code=ErrorCode.INVALID_CURSOR)
    return Cursor(key=key, direction="next" if direction == "next" else "prev", order=order, scope=scope)


@dataclass(frozen=True)
class Page:
    items: list[Any]
    next_page: str | None
    prev_page: str | None = None
