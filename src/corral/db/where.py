"""The one builder of ``WHERE`` clauses for list queries: filters and keyset positions (sessions, events, catalog).

Invariants:

* The SQL holds ``$n`` placeholders only; every value goes to ``args``, in placeholder order. No value is
  ever spliced into the text.
* ``after`` selects exactly the rows that sort after ``key`` in a scan ordered by ``columns`` (all ascending,
  or all descending), so a page never repeats or skips a row, whatever is inserted between two pages: the
  cursor holds the last key seen, not an offset.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from corral.db.query import Value

R = TypeVar("R")


class Where:
    """Terms joined by ``AND``. ``str(where)`` is the clause; ``where.args`` the values, ``$1`` first."""

    def __init__(self) -> None:
        self.terms: list[str] = []
        self.args: list[Value] = []

    def __str__(self) -> str:
        return " AND ".join(self.terms) if self.terms else "1 = 1"

    def bind(self, value: Value) -> str:
        """The placeholder of ``value`` (for a ``LIMIT`` or a term of one's own)."""
        self.args.append(value)
        return f"${len(self.args)}"

    def term(self, sql: str) -> Where:
        """A term without values, e.g. ``archived_at IS NULL``."""
        self.terms.append(sql)
        return self

    def equals(self, column: str, value: Value) -> Where:
        return self.term(f"{column} = {self.bind(value)}")

    def one_of(self, column: str, values: Sequence[Value]) -> Where:
        return self.term(f"{column} IN ({', '.join(self.bind(value) for value in values)})")

    def within(self, column: str, *, gt: Value = None, gte: Value = None, lt: Value = None, lte: Value = None) -> Where:
        """``column`` against each bound given (None: no bound)."""
        for op, value in ((">", gt), (">=", gte), ("<", lt), ("<=", lte)):
            if value is not None:
                self.term(f"{column} {op} {self.bind(value)}")
        return self

    def after(self, columns: Sequence[str], key: Sequence[Value], *, descending: bool) -> Where:
        """The rows past ``key`` in a scan ordered by ``columns``: ``(a, b) > (x, y)`` spelled so that an
        index on ``(a, b)`` serves it on both engines (``a > x OR (a = x AND b > y)``)."""
        if len(columns) != len(key) or not columns:
            raise ValueError(f"a keyset on {list(columns)} needs as many values, got {list(key)}")
        marks = [self.bind(value) for value in key]
        return self.term(_past(list(columns), marks, "<" if descending else ">"))


def _past(columns: list[str], marks: list[str], op: str) -> str:
    head, mark = columns[0], marks[0]
    if len(columns) == 1:
        return f"{head} {op} {mark}"
    return f"({head} {op} {mark} OR ({head} = {mark} AND {_past(columns[1:], marks[1:], op)}))"


def split_page(rows: Sequence[R], limit: int) -> tuple[Sequence[R], bool]:
    """A page read with ``LIMIT limit + 1``: its first ``limit`` rows, and whether more follow."""
    return rows[:limit], len(rows) > limit
