"""The directory of sandbox hosts and of where each session's sandbox is placed, in the database.

A ``corral sandbox-host`` process registers itself (``report``): its id, the URL workers reach it at, its capacity,
how many sandboxes it runs and how many warm ones wait, under a lease it renews with each report. Workers
``place`` a session's sandbox on a host and find it again (``placement``) from any process.

Invariants:

* A host is live while its lease has not expired by the database's clock; only live hosts receive placements.
* A session has at most one placement (the primary key). Placing is sticky: a session placed on a live host
  stays there unless the caller names that host in ``avoid`` (it found it unreachable or full). Two workers
  racing to place one session both get the one placement that won: a new placement is an insert that does
  nothing on conflict, a move a compare-and-set from the host the mover saw; the loser reads the winner.
* A new placement counts at once against the host's ``in_use`` so placements between two reports do not all
  land on one host; the host's next report sets the true figure.
* The host chosen has room (``in_use < capacity``); among those, one with warm sandboxes first, then the most
  free. A host that claims room it does not have refuses the provisioning, and the worker places elsewhere.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from corral.db import Database, Flow, Row, all_rows, exec_, one

_HOST_COLUMNS = "id, url, capacity, in_use, warm, lease_expires, lease_expires > {now} AS live"


@dataclass(frozen=True)
class HostReport:
    """What a host says about itself (``report``)."""

    host_id: str
    url: str
    capacity: int
    in_use: int = 0
    warm: int = 0


@dataclass(frozen=True)
class HostRecord:
    host_id: str
    url: str
    capacity: int
    in_use: int
    warm: int
    live: bool

    @property
    def free(self) -> int:
        return self.capacity - self.in_use

    @classmethod
    def of(cls, row: Row) -> HostRecord:
        figures = (int(row["capacity"]), int(row["in_use"]), int(row["warm"]))
        return cls(str(row["id"]), str(row["url"]), *figures, bool(row["live"]))


@dataclass(frozen=True)
class Placement:
    session_id: str
    host: HostRecord


def report(host: HostReport, ttl: float) -> Flow[None]:
    """Register the host or renew its lease, with the figures it reports."""
    yield exec_(
        "INSERT INTO sandbox_hosts (id, url, capacity, in_use, warm, lease_expires, registered_at)"
        " VALUES ($1, $2, $3, $4, $5, {now} + $6, {now}) ON CONFLICT (id) DO UPDATE SET url = $2, capacity = $3,"
        " in_use = $4, warm = $5, lease_expires = {now} + $6",
        host.host_id,
        host.url,
        host.capacity,
        host.in_use,
        host.warm,
        ttl,
    )


def expire(host_id: str) -> Flow[None]:
    """The host stops: it receives no placement from now on (its sessions are placed elsewhere when next used)."""
    yield exec_("UPDATE sandbox_hosts SET lease_expires = {now} - 1 WHERE id = $1", host_id)


def hosts() -> Flow[list[HostRecord]]:
    rows: list[Row] = yield all_rows(f"SELECT {_HOST_COLUMNS} FROM sandbox_hosts ORDER BY id")
    return [HostRecord.of(row) for row in rows]


def _host(host_id: str) -> Flow[HostRecord | None]:
    row: Row | None = yield one(f"SELECT {_HOST_COLUMNS} FROM sandbox_hosts WHERE id = $1", host_id)
    return None if row is None else HostRecord.of(row)


def placement(session_id: str) -> Flow[Placement | None]:
    """Where the session's sandbox is placed (its host may be dead), or None."""
    row: Row | None = yield one("SELECT host_id FROM sandbox_placements WHERE session_id = $1", session_id)
    if row is None:
        return None
    host = yield from _host(str(row["host_id"]))
    return None if host is None else Placement(session_id, host)


def _choose(candidates: Iterable[HostRecord], avoid: frozenset[str]) -> HostRecord | None:
    roomy = [host for host in candidates if host.live and host.free > 0 and host.host_id not in avoid]
    return min(roomy, key=lambda host: (host.warm <= 0, -host.free, host.host_id), default=None)


def place(session_id: str, avoid: frozenset[str] = frozenset()) -> Flow[Placement | None]:
    """The session's placement: kept if its host is live and not in ``avoid``, else made on a host with room
    (None: no live host has room). Under a race, the placement that won."""
    current: Row | None = yield one("SELECT host_id FROM sandbox_placements WHERE session_id = $1", session_id)
    if current is not None:
        host = yield from _host(str(current["host_id"]))
        if host is not None and host.live and host.host_id not in avoid:
            return Placement(session_id, host)
    rows: list[Row] = yield all_rows(f"SELECT {_HOST_COLUMNS} FROM sandbox_hosts WHERE lease_expires > {{now}}")
    chosen = _choose((HostRecord.of(row) for row in rows), avoid)
    if chosen is None:
        return None
    if current is None:
        changed: int = yield exec_(
            "INSERT INTO sandbox_placements (session_id, host_id, placed_at) VALUES ($1, $2, {now})"
            " ON CONFLICT (session_id) DO NOTHING",
            session_id,
            chosen.host_id,
        )
    else:
        changed = yield exec_(
            "UPDATE sandbox_placements SET host_id = $3, placed_at = {now} WHERE session_id = $1 AND host_id = $2",
            session_id,
            str(current["host_id"]),
            chosen.host_id,
        )
    if changed:
        yield exec_("UPDATE sandbox_hosts SET in_use = in_use + 1 WHERE id = $1", chosen.host_id)
        return Placement(session_id, chosen)
    return (yield from placement(session_id))  # another worker placed it first: its placement wins


def unplace(session_id: str) -> Flow[None]:
    yield exec_("DELETE FROM sandbox_placements WHERE session_id = $1", session_id)


class HostDirectory:
    """The flows above on one database."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def report(self, host: HostReport, ttl: float) -> None:
        await self.db.write(report, host, ttl)

    async def expire(self, host_id: str) -> None:
        await self.db.write(expire, host_id)

    async def hosts(self) -> list[HostRecord]:
        return await self.db.read(hosts)

    async def placement(self, session_id: str) -> Placement | None:
        return await self.db.read(placement, session_id)

    async def place(self, session_id: str, avoid: frozenset[str] = frozenset()) -> Placement | None:
        return await self.db.write(place, session_id, avoid)

    async def unplace(self, session_id: str) -> None:
        await self.db.write(unplace, session_id)
