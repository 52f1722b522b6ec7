"""Transactions written once, run on either engine.

A *flow* is a generator that yields ``Query`` objects and receives each query's result; its return value
is the transaction's result (``Flow[T]``). The SQLite driver runs flows synchronously inside its writer (or
a reader) thread; the PostgreSQL driver runs them on an asyncpg connection. Raising inside a flow rolls the
transaction back. This is the sans-I/O trick httpx uses for ``Auth.auth_flow``: the logic of every write
exists once, and the engines only differ in how a statement is executed.

SQL is written in PostgreSQL style with ``$1`` placeholders and three dialect macros:

* ``{now}``: the database clock as epoch seconds (a float);
* ``{for_update}``: row lock on PostgreSQL, nothing on SQLite (whose writer holds the database lock);
* ``{skip_locked}``: ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, nothing on SQLite.

Values are plain ``str``/``int``/``float``/``None``; JSON is stored as text, timestamps as RFC 3339 text
(which sorts like time) and lease clocks as epoch floats.

What a flow receives for each query: ``one`` a ``Row`` or None, ``all_rows`` a list of rows, ``exec_`` the
number of rows changed, ``many`` and ``notify`` None, ``dialect`` the engine's dialect (no statement runs: for
the rare hot path that one engine can do in fewer statements than the other). A flow annotates the name it binds
(``row: Row | None = yield one(…)``); the generator's send type cannot tell one query from another.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Generator, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal, Protocol, TypeAlias, TypeVar, overload

Kind = Literal["one", "all", "exec", "many", "notify", "dialect"]

Value: TypeAlias = str | int | float | None
"""What a statement takes as an argument and what a column holds."""


@dataclass(frozen=True, slots=True)
class Query:
    kind: Kind
    sql: str
    args: tuple[Value, ...] = ()
    rows: Sequence[tuple[Value, ...]] = ()


class Row(Protocol):
    """A result row of either engine (``sqlite3.Row``, ``asyncpg.Record``): by column name or by position."""

    @overload
    def __getitem__(self, key: str, /) -> Any: ...
    @overload
    def __getitem__(self, key: int, /) -> Any: ...
    def __len__(self) -> int: ...


def one(sql: str, *args: Value) -> Query:
    """Result: the first row (``row["col"]`` or ``row[0]``) or None."""
    return Query("one", sql, args)


def all_rows(sql: str, *args: Value) -> Query:
    """Result: a list of rows."""
    return Query("all", sql, args)


def exec_(sql: str, *args: Value) -> Query:
    """Result: the number of rows changed."""
    return Query("exec", sql, args)


def many(sql: str, rows: Sequence[tuple[Value, ...]]) -> Query:
    """Execute ``sql`` once per row of arguments. Result: None."""
    return Query("many", sql, (), rows)


def notify(channel: str, payload: str) -> Query:
    """Announce ``payload`` on ``channel`` once the transaction commits (never if it rolls back)."""
    return Query("notify", "", (channel, payload))


def dialect() -> Query:
    """Result: ``"sqlite"`` or ``"postgres"``, the engine running the flow (no statement runs)."""
    return _DIALECT


_DIALECT = Query("dialect", "")


def insert_sql(table: str, columns: Iterable[str]) -> str:
    """``INSERT INTO table (a, b, …) VALUES ($1, $2, …)``: the values go in the order of ``columns``."""
    names = tuple(columns)
    marks = ", ".join(f"${i}" for i in range(1, len(names) + 1))
    return f"INSERT INTO {table} ({', '.join(names)}) VALUES ({marks})"


def insert(table: str, values: dict[str, Value]) -> Query:
    """Insert one row given as ``{column: value}`` (columns left out take their defaults). Result: 1."""
    return exec_(insert_sql(table, values), *values.values())


T = TypeVar("T")

Flow: TypeAlias = Generator[Query, Any, T]
"""A transaction returning ``T``: yields queries, receives their results (see the module docstring)."""

BoundFlow: TypeAlias = Callable[[], Flow[T]]
"""A flow with its arguments bound, ready to start (an engine may start it more than once, to retry)."""

_PLACEHOLDER = re.compile(r"\$(\d+)")

_MACROS: dict[str, dict[str, str]] = {
    "sqlite": {
        "now": "((julianday('now') - 2440587.5) * 86400.0)",
        "for_update": "",
        "skip_locked": "",
    },
    "postgres": {
        "now": "extract(epoch from clock_timestamp())::double precision",
        "for_update": " FOR UPDATE",
        "skip_locked": " FOR UPDATE SKIP LOCKED",
    },
}


@lru_cache(maxsize=1024)
def render(sql: str, dialect: str) -> str:
    """Expand the macros for ``dialect`` and, for SQLite, turn ``$n`` into ``?n``."""
    macros = _MACROS[dialect]
    for name, value in macros.items():
        sql = sql.replace("{" + name + "}", value)
    if dialect == "sqlite":
        sql = _PLACEHOLDER.sub(r"?\1", sql)
    return sql
