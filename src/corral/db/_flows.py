"""Driving a flow: the shared part of both engines' drivers."""

from __future__ import annotations

from typing import Any

from corral.db.query import Flow
from corral.errors import StorageError


class UniqueViolation(StorageError):
    """A unique constraint refused a row. Flows may catch it (thrown into the generator) to answer 409."""


def step(flow: Flow, value: Any, error: BaseException | None) -> Any:
    """Send ``value`` (or throw ``error``) into ``flow``; return the next query or raise StopIteration."""
    if error is not None:
        return flow.throw(error)
    return flow.send(value)
