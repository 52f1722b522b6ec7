"""Numbered SQL migrations, one folder per dialect: ``migrations/<dialect>/NNNN_name.sql``.

Invariants: migrations are applied in number order, each exactly once, each in its own transaction together
with its row in ``corral_migrations``; both dialects carry the same numbers, so a database of either
engine at version N has the same logical schema.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources

_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")

CREATE_TABLE = (
    "CREATE TABLE IF NOT EXISTS corral_migrations ("
    "version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
)


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    def statements(self) -> list[str]:
        """The script split into statements, comment lines dropped (no ``;`` inside a statement)."""
        code = "\n".join(line for line in self.sql.splitlines() if not line.strip().startswith("--"))
        return [part.strip() for part in code.split(";") if part.strip()]


def migrations(dialect: str) -> list[Migration]:
    folder = resources.files("corral.db") / "migrations" / dialect
    found: list[Migration] = []
    for entry in folder.iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), match.group(2), entry.read_text()))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if versions != list(range(1, len(found) + 1)):
        raise RuntimeError(f"{dialect} migrations are not numbered 1..n: {versions}")
    return found
