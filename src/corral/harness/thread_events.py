"""Events of other threads on a session's log (api.md §17): what the coordinator's own turn must not read.

A child thread's calls that wait on the client are cross-posted to the session's log as copies carrying
``session_thread_id``; they belong to the thread, so the coordinator's fold (``log``) and context (``context``)
skip them (``cross_posted``). Ids of what delegation writes are derived from what they answer (``derived``), so
a worker that takes a delegation over after a crash writes nothing twice.
"""

from __future__ import annotations

import hashlib

from corral.ids import PREFIXES
from corral.session import Event
from corral.vocab.events import TOOL_USE_TYPES

CROSS_POSTED = "session_thread_id"
_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def cross_posted(event: Event) -> bool:
    """A copy of another thread's call (the session's answers to it name the copy, and match no call here)."""
    return event.type in TOOL_USE_TYPES and CROSS_POSTED in event.data()


def derived(kind: str, seed: str) -> str:
    """A stable id of ``kind`` (a key of ``corral.ids.PREFIXES``) for what ``seed`` names."""
    number = int.from_bytes(hashlib.sha256(f"{kind}:{seed}".encode()).digest()[:18])
    chars: list[str] = []
    for _ in range(24):
        number, digit = divmod(number, 62)
        chars.append(_ALPHABET[digit])
    return PREFIXES[kind] + "".join(chars)


def cross_post_id(event_id: str) -> str:
    return derived("event", f"copy:{event_id}")
