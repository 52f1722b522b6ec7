"""``corral vault rotate-key``: re-wrap every stored data key under the keyring's active master key.

Sealed secrets live in two tables (``SEALED``): credentials (``vault_credentials``, keyed by credential id) and
the tokens of session resources (``session_resource_tokens``, keyed by resource id); each row's key is the owner
its secret was sealed for.

Invariants:

* Only data keys are re-sealed; each secret's ciphertext stays as it is (``Keyring.rewrap``), and a clear
  data key exists only in this process's memory, for one row at a time.
* Idempotent and safe to interrupt: each row is re-wrapped by a compare-and-set on the exact sealed form it
  was read with, in batches of ``BATCH`` rows per transaction, so a row is always wholly under its old key or
  wholly under the new one, and a second run only finishes what the first left (rows already under the active
  key are not touched). A row changed meanwhile by the API was sealed anew under the active key already.
* A row whose master key this process lacks is not changed and is reported by id (the run then fails).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from corral.db import Database, Flow, Row, all_rows, exec_, one
from corral.vault.crypto import Keyring, Sealed, VaultKeyError

log = logging.getLogger("corral.vault")
BATCH = 100


@dataclass(frozen=True)
class Table:
    """A table of sealed secrets: ``key`` is the column holding each secret's owner (its associated data)."""

    name: str
    key: str


SEALED = (Table("vault_credentials", "id"), Table("session_resource_tokens", "resource_id"))
CREDENTIALS = SEALED[0]


@dataclass
class Rotation:
    active_key_id: str
    rewrapped: int = 0
    current: int = 0
    unreadable: list[str] = field(default_factory=lambda: list[str]())


def _stale(table: Table, active: str, after: str, limit: int) -> Flow[list[Row]]:
    rows: list[Row] = yield all_rows(
        f"SELECT {table.key} AS id, key_id, wrapped_key, ciphertext FROM {table.name}"
        f" WHERE ciphertext IS NOT NULL AND key_id <> $1 AND {table.key} > $2 ORDER BY {table.key} LIMIT $3",
        active,
        after,
        limit,
    )
    return rows


def _current(active: str) -> Flow[int]:
    total = 0
    for table in SEALED:
        row = yield one(f"SELECT count(*) AS n FROM {table.name} WHERE ciphertext IS NOT NULL AND key_id = $1", active)
        total += int(row["n"]) if row is not None else 0
    return total


def swap(changes: list[tuple[str, Sealed, Sealed]], table: Table = CREDENTIALS) -> Flow[int]:
    """Replace each ``(id, old, new)`` row's wrapped key if it still holds ``old``; the number replaced."""
    done = 0
    for owner, old, new in changes:
        changed: int = yield exec_(
            f"UPDATE {table.name} SET key_id = $2, wrapped_key = $3"
            f" WHERE {table.key} = $1 AND key_id = $4 AND wrapped_key = $5 AND ciphertext = $6",
            owner,
            new.key_id,
            new.wrapped_key,
            old.key_id,
            old.wrapped_key,
            old.ciphertext,
        )
        done += changed
    return done


def _rewrapped(keyring: Keyring, rows: list[Row], report: Rotation) -> list[tuple[str, Sealed, Sealed]]:
    changes: list[tuple[str, Sealed, Sealed]] = []
    for row in rows:
        old = Sealed(row["key_id"], row["wrapped_key"], row["ciphertext"])
        try:
            changes.append((row["id"], old, keyring.rewrap(row["id"], old)))
        except VaultKeyError as exc:
            log.error("vault: %s", exc.message)
            report.unreadable.append(row["id"])
    return changes


async def rotate(db: Database, keyring: Keyring) -> Rotation:
    """Re-wrap every data key not under the active key; returns what was done."""
    report = Rotation(keyring.active.key_id)
    for table in SEALED:
        after = ""
        while rows := await db.read(_stale, table, report.active_key_id, after, BATCH):
            after = str(rows[-1]["id"])
            report.rewrapped += await db.write(swap, _rewrapped(keyring, rows, report), table)
    report.current = await db.read(_current, report.active_key_id)
    return report
