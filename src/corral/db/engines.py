"""Choosing a concrete engine from a URL. Only composition roots (``api``, ``cli``, ``bench``) import this."""

from __future__ import annotations

from corral.db.base import Database


def open_database(url: str, *, sqlite_synchronous: str = "NORMAL") -> Database:
    """Pick the engine for ``url`` (``sqlite:…`` or ``postgresql://…``). Call ``await db.open()`` next."""
    if url.startswith("sqlite:"):
        from corral.db.sqlite import SqliteDatabase

        return SqliteDatabase(url, synchronous=sqlite_synchronous)
    if url.startswith(("postgres://", "postgresql://")):
        from corral.db.postgres import PostgresDatabase

        return PostgresDatabase(url)
    raise ValueError(f"unsupported database url {url!r}; use sqlite:///path or postgresql://…")
