"""``WorkQueue``: the work protocol's service (the API's only way in) and the long-poll's wake-up.

Invariants:

* An empty long-poll waits on a doorbell, never on a sleep loop: a notification on the ``work`` channel (sent in
  the transaction that queued the item: LISTEN/NOTIFY on PostgreSQL, in-process on SQLite) rings the doorbell of
  its environment, a notification without a payload (a reconnect, a foreign SQLite write) rings them all. The only
  timer is the next moment a lease of the environment may lapse (an item redeliverable then without anyone
  writing).
* The doorbell is taken *before* the poll transaction runs, so an item queued between the transaction and the
  wait still wakes it.
* Tokens and keys cross this class only as secrets to hash or to hand back once (``poll``, ``create_key``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import anyio

from corral.db import Database
from corral.ids import now, rfc3339
from corral.work import flows, keys
from corral.work.keys import EnvironmentKey
from corral.work.records import Heartbeat, QueueStats, WorkItem

MIN_TTL_SECONDS = 1  # the worker's choice: a short lease is one it must renew often
MAX_TTL_SECONDS = 600


class WorkQueue:
    def __init__(self, db: Database, default_ttl: int) -> None:
        self.db = db
        self.default_ttl = default_ttl
        self._doorbells: dict[str, anyio.Event] = {}
        self._stop_listening = db.listen("work", self._ring)

    def close(self) -> None:
        self._stop_listening()

    def _ring(self, environment_id: str | None) -> None:
        if environment_id is None:
            rung = list(self._doorbells.values())
            self._doorbells.clear()
        else:
            door = self._doorbells.pop(environment_id, None)
            rung = [] if door is None else [door]
        for door in rung:
            door.set()

    def _doorbell(self, environment_id: str) -> anyio.Event:
        door = self._doorbells.get(environment_id)
        if door is None:
            door = self._doorbells[environment_id] = anyio.Event()
        return door

    def clamp_ttl(self, desired: int | None) -> int | None:
        """The lease a heartbeat asks for, kept within 1–600 s (None: the item keeps the one it has)."""
        if desired is None:
            return None
        return max(MIN_TTL_SECONDS, min(desired, MAX_TTL_SECONDS))

    # ------------------------------------------------------------------ keys

    async def create_key(self, workspace_id: str, environment_id: str, name: str) -> EnvironmentKey:
        return await self.db.write(keys.create, workspace_id, environment_id, name, keys.new_key(), rfc3339(now()))

    async def list_keys(self, workspace_id: str, environment_id: str) -> list[EnvironmentKey]:
        return await self.db.read(keys.listed, workspace_id, environment_id)

    async def revoke_key(self, workspace_id: str, environment_id: str, key_id: str) -> EnvironmentKey:
        return await self.db.write(keys.revoke, workspace_id, environment_id, key_id, rfc3339(now()))

    async def key_for(self, secret: str) -> EnvironmentKey | None:
        return await self.db.read(keys.lookup, secret)

    async def item_for(self, token: str) -> WorkItem | None:
        return await self.db.read(flows.by_token, token)

    # ------------------------------------------------------------------ items

    async def enqueue(self, workspace_id: str, environment_id: str, session_id: str) -> bool:
        stamp = rfc3339(now())
        return await self.db.write(flows.enqueue, workspace_id, environment_id, session_id, self.default_ttl, stamp)

    async def poll(self, environment_id: str, worker_id: str, block_ms: int | None, reclaim_ms: int) -> WorkItem | None:
        deadline = anyio.current_time() + (block_ms or 0) / 1000.0
        while True:
            door = self._doorbell(environment_id)
            token = keys.new_sessions_token()
            item, lapse_in = await self.db.write(flows.poll, environment_id, worker_id, reclaim_ms, token)
            left = deadline - anyio.current_time()
            if item is not None or left <= 0:
                return item
            with anyio.move_on_after(min(left, lapse_in if math.isfinite(lapse_in) else left)):
                await door.wait()

    async def has_polled(self, environment_id: str, worker_id: str) -> bool:
        """Whether ``worker_id`` has polled the environment (a long-poll that found nothing is waiting now)."""
        return await self.db.read(flows.has_polled, environment_id, worker_id)

    async def ack(self, workspace_id: str, environment_id: str, work_id: str) -> WorkItem:
        return await self.db.write(flows.ack, workspace_id, environment_id, work_id, rfc3339(now()))

    async def heartbeat(
        self, workspace_id: str, environment_id: str, work_id: str, expected: str, desired_ttl: int | None
    ) -> Heartbeat:
        ttl = self.clamp_ttl(desired_ttl)
        return await self.db.write(
            flows.heartbeat, workspace_id, environment_id, work_id, expected, ttl, rfc3339(now())
        )

    async def stop(self, workspace_id: str, environment_id: str, work_id: str, *, force: bool) -> WorkItem:
        return await self.db.write(flows.stop, workspace_id, environment_id, work_id, force, rfc3339(now()))

    async def get(self, workspace_id: str, environment_id: str, work_id: str) -> WorkItem:
        return await self.db.write(flows.get, workspace_id, environment_id, work_id)

    async def update(
        self, workspace_id: str, environment_id: str, work_id: str, metadata: Mapping[str, str | None]
    ) -> WorkItem:
        return await self.db.write(flows.update_metadata, workspace_id, environment_id, work_id, metadata)

    async def page(
        self, workspace_id: str, environment_id: str, limit: int, after: tuple[str, str] | None
    ) -> tuple[list[WorkItem], bool]:
        return await self.db.write(flows.page, workspace_id, environment_id, limit, after)

    async def stats(self, workspace_id: str, environment_id: str) -> QueueStats:
        return await self.db.write(flows.stats, workspace_id, environment_id)
