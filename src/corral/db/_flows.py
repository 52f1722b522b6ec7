"""Driving a flow: the part of both engines' drivers that does not depend on how a statement runs.

Invariant (same on both engines): a ``UniqueViolation`` thrown into a flow voids its transaction. The flow
may catch it and return a value or raise, but every write it made is discarded, and a further query raises
``StorageError``. (PostgreSQL aborts the transaction on any error; SQLite would carry on, so the SQLite
driver rolls the flow back to keep the engines alike.)
"""

from __future__ import annotations

from typing import Any

from corral.db.query import Flow, Query
from corral.errors import StorageError


class UniqueViolation(StorageError):
    """A unique constraint refused a row. Flows may catch it (thrown into the generator) to answer 409."""


class FlowState:
    """One running flow: what to send into it next, and whether a unique violation has voided it."""

    __slots__ = ("error", "flow", "value", "void")

    def __init__(self, flow: Flow[Any]):
        self.flow = flow
        self.value: Any = None
        self.error: BaseException | None = None
        self.void = False

    def next_query(self) -> Query | None:
        """The flow's next query, or None once it returned (its value is then in ``self.value``)."""
        try:
            query = self.flow.throw(self.error) if self.error is not None else self.flow.send(self.value)
        except StopIteration as stop:
            self.value, self.error = stop.value, None
            return None
        if self.void:
            self.flow.close()
            raise StorageError("a flow issued a query after a UniqueViolation voided its transaction")
        return query

    def answer(self, value: Any) -> None:
        self.value, self.error = value, None

    def unique_violation(self, message: str) -> None:
        self.value, self.error, self.void = None, UniqueViolation(message), True
