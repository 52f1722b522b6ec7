"""What an upload says about its bytes, normalised as the hosted Files API does (api.md §13).

* ``filename``: only the last path component of the part's filename is kept (``/`` and ``\\`` both separate);
  an absent or empty one becomes ``unnamed`` plus the extension of the mime type, when one is known.
* ``mime_type``: the part's ``Content-Type`` when it says more than ``application/octet-stream``, else the type
  the filename's extension implies, else ``application/octet-stream``.
* A session's output is named by its path relative to the outputs directory (``charts/q1.png``): at most 255
  characters, no NUL, no empty, ``.`` or ``..`` segment.
* ``expires_in_seconds``: absent (the file never expires) or an integer from 3600 to 7776000; anything else is a
  400 naming the field.
"""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass

from corral.errors import InvalidRequest

EXPIRES_MIN_SECONDS = 3600
EXPIRES_MAX_SECONDS = 7_776_000
OCTET_STREAM = "application/octet-stream"
MAX_FILENAME_CHARS = 255


@dataclass(frozen=True)
class Upload:
    """The metadata of one uploaded file part, as sent."""

    filename: str | None
    content_type: str | None
    expires_in_seconds: int | None = None


def mime_type(filename: str, content_type: str | None) -> str:
    sent = (content_type or "").split(";", 1)[0].strip().lower()
    if sent and sent != OCTET_STREAM:
        return sent
    guessed, _ = mimetypes.guess_type(filename, strict=False)
    return guessed or OCTET_STREAM


def filename(sent: str | None, content_type: str | None) -> str:
    """The stored name: the last path component, or ``unnamed.<ext>`` when there is none."""
    last = (sent or "").replace("\\", "/").rsplit("/", 1)[-1].strip()
    if last in ("", ".", ".."):
        kind = mime_type("", content_type)
        extension = mimetypes.guess_extension(kind, strict=False) if kind != OCTET_STREAM else None
        last = "unnamed" + (extension or "")
    if len(last) > MAX_FILENAME_CHARS or "\x00" in last:
        raise InvalidRequest(f"file: the filename must be at most {MAX_FILENAME_CHARS} characters, without NUL")
    return last


def output_name(relative: str) -> str:
    """The stored name of a session's output at ``relative`` (a ``/``-separated path below its outputs directory)."""
    segments = relative.split("/")
    if len(relative) > MAX_FILENAME_CHARS or "\x00" in relative or any(s in ("", ".", "..") for s in segments):
        raise InvalidRequest(f"outputs: {relative[:80]!r} is not a plain relative path of at most 255 characters")
    return relative


def expires_in_seconds(raw: str | None) -> int | None:
    """The form field's value, checked; None when it was not sent."""
    if raw is None:
        return None
    text = raw.strip()
    if not text.isdigit() or not EXPIRES_MIN_SECONDS <= int(text) <= EXPIRES_MAX_SECONDS:
        raise InvalidRequest(
            f"expires_in_seconds: must be an integer from {EXPIRES_MIN_SECONDS} to {EXPIRES_MAX_SECONDS}, got"
            f" {raw[:40]!r}"
        )
    return int(text)
