"""Memory paths (api.md §12.1): what a valid path is, the ``path_prefix`` of a list, and the ``depth`` roll-up.

Invariants: a path this module accepts starts with ``/``, has 1 to 20 segments, none empty, ``.`` or ``..``, no
control or format character (NUL included) nor U+2028/U+2029, is in NFC and at most 1,024 UTF-8 bytes; it is
never rewritten (no normalisation, case kept), so what is stored is what the client sent. Every refusal is a 400
``invalid_memory_path`` naming the rule. Paths compare as code points, and every path that starts with a prefix
``p/`` sorts in ``[p/, upper(p/))``, which is what the list scans rely on.
"""

from __future__ import annotations

import unicodedata

from corral.errors import ErrorCode, InvalidRequest

MAX_PATH_BYTES = 1024
MAX_SEGMENTS = 20
_SEPARATORS = frozenset("\u2028\u2029")


def _refuse(field: str, why: str) -> InvalidRequest:
    return InvalidRequest(f"{field}: {why}", code=ErrorCode.INVALID_MEMORY_PATH)


def _bad_char(char: str) -> bool:
    # Cc: control (NUL, newline …), Cf: format (zero-width joiners, bidi overrides …), and the two separators
    return unicodedata.category(char) in ("Cc", "Cf") or char in _SEPARATORS


def _check_text(value: str, field: str) -> None:
    if not value.startswith("/"):
        raise _refuse(field, "a memory path starts with '/'")
    if any(_bad_char(char) for char in value):
        raise _refuse(field, "control characters, format characters and U+2028/U+2029 are not allowed")
    if unicodedata.normalize("NFC", value) != value:
        raise _refuse(field, "the path must be in Unicode Normalization Form C")
    if len(value.encode("utf-8")) > MAX_PATH_BYTES:
        raise _refuse(field, f"at most {MAX_PATH_BYTES} bytes (UTF-8)")


def _check_segments(segments: list[str], field: str) -> None:
    if not 1 <= len(segments) <= MAX_SEGMENTS:
        raise _refuse(field, f"a memory path has 1 to {MAX_SEGMENTS} segments")
    for segment in segments:
        if segment in ("", ".", ".."):
            raise _refuse(field, "segments cannot be empty, '.' or '..'")


def memory_path(value: str, field: str = "path") -> str:
    """``value`` if it is a valid memory path (``/projects/foo/notes.md``), else a 400."""
    _check_text(value, field)
    _check_segments(value[1:].split("/"), field)
    return value


def path_prefix(value: str | None) -> str:
    """A list's ``path_prefix`` (``/`` when omitted): a valid path of directories, ending with ``/``."""
    if value is None or value == "/":
        return "/"
    if not value.endswith("/"):
        raise _refuse("path_prefix", "must end with '/' (it matches whole segments)")
    _check_text(value, "path_prefix")
    _check_segments(value[1:-1].split("/"), "path_prefix")
    return value


def upper(prefix: str) -> str:
    """The least string above every string that starts with ``prefix`` (which ends with ``/``): ``/`` + 1 is ``0``."""
    return prefix[:-1] + "0"


def ancestors(path: str) -> list[str]:
    """The directories above ``path`` as memory paths: ``/a/b/c`` → ``/a``, ``/a/b``."""
    parts = path[1:].split("/")
    return ["/" + "/".join(parts[:end]) for end in range(1, len(parts))]


def rolled_up(path: str, prefix: str, depth: int) -> str | None:
    """The ``memory_prefix`` that stands for ``path`` in a list at ``depth`` below ``prefix``, or None when the
    memory itself is listed (``depth`` 0 lists everything)."""
    if depth == 0:
        return None
    segments = path[len(prefix) :].split("/")
    if len(segments) <= depth:
        return None
    return prefix + "/".join(segments[:depth]) + "/"
