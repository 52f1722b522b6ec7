"""The only way a wake writes to the session: fenced appends and stamps, folded into the worker's log.

Invariants:

* Every append and every ``processed_at`` stamp carries the wake's ``Fence``; once another worker owns
  the session they raise ``LeaseLost`` and nothing is written.
* What this worker appends is applied to its ``SessionLog`` right away, after any events other writers
  placed before it (read from the store), so decisions always see a gapless prefix of the log.
"""

from __future__ import annotations

from collections.abc import Sequence

from corral.harness.log import SessionLog, TurnState
from corral.session import Delta, Event, EventType, Fence, NewEvent, SessionStore


class Writer:
    def __init__(self, store: SessionStore, fence: Fence, log: SessionLog):
        self._store = store
        self.fence = fence
        self.log = log
        self.session_id = fence.session_id

    @property
    def state(self) -> TurnState:
        """The fold of everything this worker has read and written so far."""
        return self.log.state

    @property
    def events(self) -> Sequence[Event]:
        return self.log.events

    async def catch_up(self) -> None:
        """Read what other writers appended since this worker last looked."""
        await self.log.catch_up(self._store)

    async def preview(self, body: dict[str, object], target: EventType) -> None:
        """Publish a live-only preview (never stored) of the event ``target`` being written."""
        await self._store.publish_delta(Delta(self.session_id, body), target)

    async def emit(self, events: list[NewEvent]) -> list[Event]:
        if not events:
            return []
        appended = await self._store.emit_events(self.session_id, events, fence=self.fence)
        await self.log.extend(self._store, appended)
        return appended

    async def stamp(self, event_ids: list[str]) -> None:
        """Set ``processed_at`` on client events the harness has taken up."""
        if event_ids:
            await self._store.mark_processed(self.session_id, event_ids, fence=self.fence)
            self.log.stamped(event_ids)

    async def stamp_taken(self) -> None:
        """Stamp the client events folded so far (all in the context being sent); interrupts wait for handling."""
        await self.stamp([event_id for event_id, kind in self.log.state.unstamped.items() if kind != "user.interrupt"])

    async def stamp_settled(self, *, interrupts: bool = True) -> None:
        """Stamp client events a step just settled; queued messages not yet taken up stay unstamped."""
        state = self.log.state
        pending = set(state.pending_messages())
        await self.stamp(
            [
                event_id
                for event_id, kind in state.unstamped.items()
                if event_id not in pending and (interrupts or kind != "user.interrupt")
            ]
        )

    async def settle(self, events: list[NewEvent], *, turn_over: bool = True) -> None:
        """Append the events that end a step (an idle event …) and stamp what they settled.

        Everything but interrupts is stamped first, so a client that sees the idle event sees it processed. An
        interrupt is stamped only after an idle event that ends the turn (``turn_over``), because an unstamped
        interrupt after the last such event is what tells a worker (this one, or one taking over) that the
        interrupt still has to be handled.
        """
        await self.stamp_settled(interrupts=False)
        await self.emit(events)
        if turn_over:
            await self.stamp_settled()
