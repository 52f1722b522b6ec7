"""Tenancy limits the API process enforces: request rates per workspace, open event streams per key, and the
revocation of keys that hold streams open.

* **Rates**: one token bucket per workspace and kind (writes: ``POST``/``DELETE``; reads: ``GET``), holding at
  most a minute's worth of requests and refilled continuously, so a workspace may burst up to its per-minute
  limit and then proceeds at the limit's pace. Over it, the request is refused with a 429 whose ``retry-after``
  is when one token will be back (the SDK waits that long and retries). Admin keys are not limited: they are the
  operator's.
* **Streams**: a workspace key holds at most ``max_streams_per_key`` event streams open at once; one more is a
  429. Admin keys are not limited here either (a benchmark's 200 subscribers of one session use one).
* **Revocation**: a stream's ``StreamGuard`` ends the stream with an ``error`` frame when its key is revoked: at
  once when this process revoked it (``KeyStreams.revoke``), and otherwise (another API process,
  ``corral keys revoke``) at the next keep-alive, when the guard asks the database again.

Invariants: on SQLite (one API process) the buckets live in this process; on PostgreSQL the rates are counted in
the database (``corral.api.shared_rates``), shared by every API process, so N processes still give a workspace
its limit, not N times it. The stream counts live in this process: each enforces the limit on what it serves. A
stream counted here is always uncounted when it ends, whichever way it ends (``StreamGuard`` is a context
manager).
"""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from types import TracebackType

import anyio

from corral.api.shared_rates import SharedWindows
from corral.catalog import Principal
from corral.config import Settings
from corral.errors import RateLimited

_MOST_BUCKETS = 100_000  # beyond this many workspaces seen, full (idle) buckets are forgotten
ADMIN_STREAMS = "admin"  # the operator's CORRAL_API_KEY has no id: its streams are counted under this name
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: sending events to a session (messages, confirmations, tool results) is talking to it, not creating anything:
#: the hosted API limits creates; events have their own limits per request and per event (``event_limits``)
SESSION_EVENTS = re.compile(r"/v1/sessions/[^/]+(/threads/[^/]+)?/events")


@dataclass
class _Bucket:
    tokens: float
    at: float


class Buckets:
    """Token buckets of ``per_minute`` capacity, refilled at ``per_minute / 60`` tokens a second, by name."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self.clock = clock
        self._buckets: dict[str, _Bucket] = {}

    def take(self, name: str) -> float:
        """Take one token of ``name``'s bucket: 0.0 if there was one, else the seconds until there is."""
        now = self.clock()
        bucket = self._buckets.get(name)
        if bucket is None:
            if len(self._buckets) >= _MOST_BUCKETS:
                self._forget_full(now)
            bucket = self._buckets[name] = _Bucket(self.capacity, now)
        bucket.tokens = min(self.capacity, bucket.tokens + (now - bucket.at) * self.rate)
        bucket.at = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / self.rate

    def _forget_full(self, now: float) -> None:
        """A forgotten full bucket comes back full: forgetting it changes nothing."""
        full = [name for name, b in self._buckets.items() if b.tokens + (now - b.at) * self.rate >= self.capacity]
        for name in full:
            del self._buckets[name]


class RateLimits:
    """The per-workspace request rates of ``Settings`` (a limit of 0 is no limit): counted in this process's
    buckets, or in the database's windows once ``share`` gave it one (``corral.api.shared_rates``)."""

    def __init__(self, settings: Settings) -> None:
        self.per_minute = {"writes": settings.rate_writes_per_minute, "reads": settings.rate_reads_per_minute}
        self.buckets = {kind: Buckets(limit) for kind, limit in self.per_minute.items() if limit > 0}
        self.shared: SharedWindows | None = None

    def share(self, windows: SharedWindows) -> None:
        """Count in ``windows`` from now on (every API process on the database then shares one limit)."""
        self.shared = windows

    async def check(self, principal: Principal, method: str, path: str = "") -> RateLimited | None:
        if principal.admin:
            return None
        reading = method in READ_METHODS
        if not reading and SESSION_EVENTS.fullmatch(path):
            return None
        kind = "reads" if reading else "writes"
        per_minute = self.per_minute[kind]
        if per_minute <= 0:
            return None
        if self.shared is not None:
            wait = await self.shared.take(f"{kind}:{principal.workspace_id}", per_minute)
        else:
            wait = self.buckets[kind].take(principal.workspace_id)
        if wait <= 0.0:
            return None
        verbs = "GET" if reading else "POST/DELETE"
        return RateLimited(
            f"workspace {principal.workspace_id} is over its rate limit of {per_minute} {verbs} requests per minute",
            retry_after=wait,
        )


@dataclass(eq=False)  # each guard is one stream: identity is equality (and hashable, for the per-key sets)
class StreamGuard:
    """One open event stream of a key: counted while open; ``revoked`` is set when the key is revoked."""

    owner: KeyStreams
    key: str
    still_live: Callable[[], Awaitable[bool]] | None  # asks the database; None: the key cannot be revoked
    limited: bool = True  # counted against the stream limit (admin keys are not)
    revoked: anyio.Event = field(default_factory=anyio.Event)

    def __enter__(self) -> StreamGuard:
        self.owner.admit(self)
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.owner.release(self)

    async def watch(self, every: float) -> None:
        """Return once the key is revoked: at once if this process revoked it, else within ``every`` seconds."""
        while not self.revoked.is_set():
            with anyio.move_on_after(every):
                await self.revoked.wait()
            if self.still_live is not None and not self.revoked.is_set() and not await self.still_live():
                self.revoked.set()


class KeyStreams:
    """The open event streams of each key in this process."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._open: dict[str, set[StreamGuard]] = {}

    def guard(self, principal: Principal, still_live: Callable[[], Awaitable[bool]]) -> StreamGuard:
        if principal.key_id is None:
            return StreamGuard(self, ADMIN_STREAMS, None, limited=False)
        return StreamGuard(self, principal.key_id, still_live, limited=not principal.admin)

    def admit(self, guard: StreamGuard) -> None:
        streams = self._open.setdefault(guard.key, set())
        if guard.limited and self.limit > 0 and len(streams) >= self.limit:
            raise RateLimited(f"this API key already holds {self.limit} event streams open", retry_after=1.0)
        streams.add(guard)

    def release(self, guard: StreamGuard) -> None:
        streams = self._open.get(guard.key)
        if streams is not None:
            streams.discard(guard)
            if not streams:
                del self._open[guard.key]

    def revoke(self, key_id: str) -> int:
        """End the key's open streams in this process; how many there were."""
        streams = self._open.get(key_id, set())
        for guard in streams:
            guard.revoked.set()
        return len(streams)
