"""``WarmLogs``: the session logs this worker's finished wakes left behind, so that the next wake of a session
reads only what follows them instead of the whole log (a turn's cost does not grow with the session's length).

A warm log is derived and disposable: the log in the store stays the only truth, and a wake without one (none
kept, evicted, another process, a restart) reads the whole log as it always did.

Invariants:

* One wake at a time owns a log: ``read`` takes the session's log out before reading anything, and the wake
  puts it back (``keep``) only once it has ended cleanly. A wake that raised (a lost lease, a failure, a
  cancellation, a deleted session) leaves nothing behind, so a log that may have missed or half-applied
  something is never continued.
* A log taken is continued only if the store agrees with it (``SessionLog.rejoin``): the wake reads from the
  first held row that may have changed since (a queued event stamped by this worker, another wake or a thread's
  relay), or else from the last held row (a log that is not this one any more fails there), to the end; any
  disagreement drops the log and the whole log is read. Events are never changed but for that stamp, nor
  removed but with their session, so the continued log is the log a fresh read would give, event for event,
  and so is its fold; what other workers appended in between comes after the position held and is read.
* Bounded by the events held (least recently kept dropped first); a log larger than the bound is not kept;
  a bound of 0 keeps nothing.
* The session record a wake reads is never kept: it is read fresh by every wake.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from corral.harness.log import SessionLog
from corral.session import SessionStore


@dataclass
class WarmStats:
    """What the cache did, since the process started (read by tests and the bench)."""

    continued: int = 0
    #: logs taken that the store disagreed with (then read whole)
    refused: int = 0
    #: wakes that read the whole log (nothing kept, or refused)
    whole: int = 0
    #: events read by ``read``, both ways
    events_read: int = 0


class WarmLogs:
    def __init__(self, capacity: int):
        self.capacity = capacity
        self.stats = WarmStats()
        self._logs: OrderedDict[str, tuple[SessionLog, int]] = OrderedDict()  # the log and its size when kept
        self._held = 0

    @property
    def held(self) -> int:
        """Events held, all logs together."""
        return self._held

    def __contains__(self, session_id: str) -> bool:
        return session_id in self._logs

    async def read(self, store: SessionStore, session_id: str) -> SessionLog:
        """The session's log: the one kept, caught up (the stamps of its queued rows, then what follows), or the
        whole log read and folded."""
        log = self._take(session_id)
        if log is not None:
            events = await store.get_events(session_id, log.reread_from)
            self.stats.events_read += len(events)
            if log.rejoin(events):
                self.stats.continued += 1
                return log
            self.stats.refused += 1
        events = await store.get_events(session_id)
        self.stats.events_read += len(events)
        self.stats.whole += 1
        return SessionLog(session_id, events)

    def keep(self, log: SessionLog) -> None:
        """Keep the log of a wake that ended cleanly for the session's next wake on this worker."""
        size = len(log.events)
        if size == 0 or size > self.capacity:
            return
        self._take(log.session_id)
        self._logs[log.session_id] = (log, size)
        self._held += size
        while self._held > self.capacity:
            _, (_, evicted) = self._logs.popitem(last=False)
            self._held -= evicted

    def _take(self, session_id: str) -> SessionLog | None:
        kept = self._logs.pop(session_id, None)
        if kept is None:
            return None
        self._held -= kept[1]
        return kept[0]
