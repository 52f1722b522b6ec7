"""Memory stores (api.md §12): workspace-scoped stores of small text documents ("memories") at paths, with a
version for every change.

Public surface: ``MemoryStores`` (the API's verbs for stores, memories and versions), the typed inputs of
``corral.memory.params``, the records and their wire forms (``corral.memory.records``), ``VersionFilter`` (what a
version list filters on) and the path rules of ``corral.memory.paths``.

Independent of ``session``, ``sandbox``, ``catalog``, ``vault`` and ``files``; imports only ``db`` and the leaves.
Contents are at most 100 kB, so they live in the database rows, not in the blob store. A session's sandbox
shows a store as a directory (``corral.resources.memory``); what the session changes there comes back through
``MemoryStores.write_back`` (``corral.memory.writeback``: conflicts become versions, never lost updates).

Invariants: a store, memory or version of another workspace is indistinguishable from one that does not exist
(404); every change to a memory is one transaction that also writes the version recording it; the writes of one
store are serialised, so a ``content_sha256`` precondition is never checked against a stale state and no update
is silently lost.
"""

from corral.memory._versions import VersionFilter
from corral.memory.records import Actor, MemoryRecord, PrefixItem, StoreRecord, VersionRecord, View
from corral.memory.store import MemoryStores

__all__ = [
    "Actor",
    "MemoryRecord",
    "MemoryStores",
    "PrefixItem",
    "StoreRecord",
    "VersionFilter",
    "VersionRecord",
    "View",
]
