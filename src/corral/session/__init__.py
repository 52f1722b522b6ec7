"""The session: "the append-only log of everything that happened", and the only state corral keeps.

Public surface: ``SessionStore`` (verbs ``create_session``, ``get_session``, ``emit_event``,
``get_events``, ``subscribe``, ``claim``/``renew``/``release``), ``Event`` / ``NewEvent`` / ``Delta``,
``SessionRecord``, ``NewSession``, ``SessionFilter`` (``records``), ``Fence`` (``leases``), ``EventQuery``
(``event_log``), ``WorkspaceRecords`` (``workspaces``: each session's latest workspace snapshot).
"""

from corral.session.broker import Closed, Subscriber
from corral.session.event_log import EventQuery
from corral.session.events import CLIENT_EVENT_TYPES, EVENT_TYPES, Delta, Event, EventType, NewEvent, dumps
from corral.session.leases import Fence
from corral.session.records import NewSession, SessionFilter, SessionRecord
from corral.session.store import SessionStore
from corral.session.workspaces import WorkspaceRecords

__all__ = [
    "CLIENT_EVENT_TYPES",
    "EVENT_TYPES",
    "Closed",
    "Delta",
    "Event",
    "EventType",
    "EventQuery",
    "Fence",
    "NewEvent",
    "NewSession",
    "SessionFilter",
    "SessionRecord",
    "SessionStore",
    "Subscriber",
    "WorkspaceRecords",
    "dumps",
]
