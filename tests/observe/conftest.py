"""Fixtures of the observability tests: corral's log handler on a buffer, read back as parsed lines."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from corral import logs


class Lines:
    """What ``corral.logs`` wrote while the fixture was active, one parsed JSON object per line."""

    def __init__(self) -> None:
        self.buffer = io.StringIO()

    @property
    def text(self) -> str:
        return self.buffer.getvalue()

    def all(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.text.splitlines() if line.startswith("{")]

    def containing(self, words: str) -> list[dict[str, Any]]:
        return [line for line in self.all() if words in line["message"]]


@pytest.fixture
def lines() -> Iterator[Lines]:
    """corral's JSON handler on a buffer, at INFO, for the duration of the test; the loggers as they were after."""
    root, access = logging.getLogger(), logging.getLogger("uvicorn.access")
    handlers, level, access_disabled = list(root.handlers), root.level, access.disabled
    captured = Lines()
    logs.configure("json", "INFO", stream=captured.buffer)
    try:
        yield captured
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        access.disabled = access_disabled
