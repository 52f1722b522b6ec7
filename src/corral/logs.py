"""Structured logs: one line per record, JSON when stderr is not a terminal (or ``CORRAL_LOG_FORMAT=json``), a
readable line on a terminal.

Each line carries the ids of what it happened in (``request_id``, ``session_id``, ``turn_id``, ``tool_call_id``)
from context variables bound at the boundaries: the request middleware (``corral.observe.http``), a worker's wake,
the harness's turn and tool call (``bind``). A line written anywhere below names them without passing them down.

Invariants: importable from every layer (the standard library only); no secret reaches a line: values
registered with ``redact`` (model API keys, the server's own key) and credentials in the usual shapes
(``Authorization`` values, ``sk-…`` keys, ``x-api-key`` values) are masked in the formatted line, message and
traceback alike.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Generator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, Literal

LogFormat = Literal["auto", "json", "text"]
IDS = ("request_id", "session_id", "turn_id", "tool_call_id")
MASK = "[redacted]"

_ids: ContextVar[Mapping[str, str] | None] = ContextVar("corral_log_ids", default=None)
#: the request's ASGI ``state``: the gate writes its ``request_id`` there after this is bound
_request_state: ContextVar[Mapping[str, Any] | None] = ContextVar("corral_request_state", default=None)
_secrets: set[str] = set()
_SHAPES = re.compile(
    r"(?i)(bearer\s+|basic\s+|x-api-key[\"']?\s*[:=]\s*[\"']?)[^\s\"',;]+|\bsk-[A-Za-z0-9_\-]{8,}|\bck_[A-Za-z0-9]{16,}"
)


@contextmanager
def bind(**ids: str | None) -> Generator[None]:
    """Lines written inside carry these ids (``None`` leaves an id as it was)."""
    merged = {**(_ids.get() or {}), **{k: v for k, v in ids.items() if v is not None}}
    token = _ids.set(merged)
    try:
        yield
    finally:
        _ids.reset(token)


@contextmanager
def bind_request(state: Mapping[str, Any]) -> Generator[None]:
    token = _request_state.set(state)
    try:
        yield
    finally:
        _request_state.reset(token)


def current_ids() -> dict[str, str]:
    ids = dict(_ids.get() or {})
    state = _request_state.get()
    if state is not None and isinstance(request_id := state.get("request_id"), str):
        ids["request_id"] = request_id
    return ids


def redact(secret: str | None) -> None:
    """Mask ``secret`` wherever it would appear in a line (short values are not secrets worth masking)."""
    if secret and len(secret) >= 8:
        _secrets.add(secret)


def scrub(text: str) -> str:
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    return _SHAPES.sub(lambda m: (m.group(1) or "") + MASK, text)


class _Ids(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in current_ids().items():
            setattr(record, name, value)
        return True


class JsonFormatter(logging.Formatter):
    """``{"time", "level", "logger", "message", ids…, "exception"}``, one object per line."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update({name: value for name in IDS if (value := getattr(record, name, None))})
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return scrub(json.dumps(line, default=str))


class TextFormatter(logging.Formatter):
    """``HH:MM:SS level logger: message [ids]`` for a person at a terminal."""

    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created).strftime("%H:%M:%S")
        ids = " ".join(f"{name}={value}" for name in IDS if (value := getattr(record, name, None)))
        text = f"{when} {record.levelname.lower():7} {record.name}: {record.getMessage()}"
        if ids:
            text += f"  [{ids}]"
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return scrub(text)


class _Handler(logging.StreamHandler[Any]):
    pass


def formatter(fmt: LogFormat, stream: Any) -> logging.Formatter:
    if fmt == "auto":
        isatty = getattr(stream, "isatty", None)
        fmt = "text" if callable(isatty) and isatty() else "json"
    return TextFormatter() if fmt == "text" else JsonFormatter()


def configure(fmt: LogFormat = "auto", level: str = "INFO", stream: Any = None) -> None:
    """Send every logger's records (uvicorn's included) to ``stream`` (stderr) in one format; idempotent."""
    handler = _Handler(stream or sys.stderr)
    handler.setFormatter(formatter(fmt, handler.stream))
    handler.addFilter(_Ids())
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _Handler)]:  # configuring again replaces only ours
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    adopt_uvicorn()


def adopt_uvicorn() -> None:
    """uvicorn configures its loggers with handlers of its own after the app is built: hand them to the root."""
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    logging.getLogger("uvicorn.access").disabled = True  # the access log is ``corral.access`` (route, ids, timing)
