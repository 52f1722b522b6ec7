"""The SQLite engine: one writer thread with group commit (``writer``), a pool of reader threads (``readers``),
a checkpointer thread keeping the WAL short (``checkpointer``), their connections and flow driver
(``connection``) and the jobs they pass to the event loop (``jobs``). ``database.SqliteDatabase`` ties them
together; its invariants are in that module's docstring."""

from corral.db.sqlite.database import SqliteDatabase

__all__ = ["SqliteDatabase"]
