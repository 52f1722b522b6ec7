"""Self-hosted environments' work protocol (api.md §10): environment keys, the work queue, per-item secrets.

``keys`` stores environment keys (hashed); ``flows`` the work items' transactions and their state machine;
``queue.WorkQueue`` is the service the API uses, with the long-poll's wake-up (a notification on the ``work``
channel: LISTEN/NOTIFY on PostgreSQL, in-process on SQLite).
"""

from corral.work.keys import EnvironmentKey
from corral.work.queue import WorkQueue
from corral.work.records import Heartbeat, QueueStats, WorkItem, WorkState

__all__ = ["EnvironmentKey", "Heartbeat", "QueueStats", "WorkItem", "WorkQueue", "WorkState"]
