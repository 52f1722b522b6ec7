"""Which extensions an agent selected (its snapshot's ``corral.extensions``, as ``catalog.extensions`` stored it),
and how a failing one is named.

Pure: reading a selection loads nothing (``host.ExtensionHost.load`` does, off the event loop).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from corral._types import JSONObject, json_list, json_object
from corral.vocab.extensions import DEFAULT, TITLES, ExtensionKind

T = TypeVar("T")


class ExtensionFailed(Exception):
    """An extension raised, or could not be loaded: reported on the session as a ``session.error`` naming it."""

    def __init__(self, kind: ExtensionKind, name: str, problem: str):
        self.kind: ExtensionKind = kind
        self.name = name
        self.problem = problem
        super().__init__(self.message)

    @property
    def message(self) -> str:
        return f"the {TITLES[self.kind]} {self.name!r} failed: {self.problem}"

    @classmethod
    def of(cls, kind: ExtensionKind, name: str, exc: BaseException) -> ExtensionFailed:
        return cls(kind, name, f"{type(exc).__name__}: {exc}")


def conforming(value: object, kind: type[T]) -> T | None:
    """``value`` if it is a ``kind``: an extension's result is checked, whatever its annotations promise."""
    return value if isinstance(value, kind) else None


@dataclass(frozen=True)
class Choice:
    kind: ExtensionKind
    name: str
    options: JSONObject
    #: a server-side tool's permission policy
    policy: Literal["always_allow", "always_ask"] = "always_ask"

    @property
    def key(self) -> tuple[str, str, str]:
        """What identifies one instance (``options`` as canonical JSON)."""
        return (self.kind, self.name, json.dumps(self.options, sort_keys=True))


def _default(kind: ExtensionKind) -> Choice:
    return Choice(kind, DEFAULT, {})


@dataclass(frozen=True)
class Selection:
    context_strategy: Choice
    compaction_policy: Choice
    model_router: Choice
    tools: tuple[Choice, ...] = ()
    observers: tuple[Choice, ...] = ()

    @classmethod
    def from_snapshot(cls, snapshot: Mapping[str, Any]) -> Selection:
        corral = json_object(snapshot.get("corral")) or {}
        chosen = json_object(corral.get("extensions")) or {}
        return cls(
            _one(chosen, "context_strategy"),
            _one(chosen, "compaction_policy"),
            _one(chosen, "model_router"),
            _many(chosen, "tools"),
            _many(chosen, "observers"),
        )

    @property
    def choices(self) -> tuple[Choice, ...]:
        return (self.context_strategy, self.compaction_policy, self.model_router, *self.tools, *self.observers)


def _choice(kind: ExtensionKind, entry: JSONObject) -> Choice:
    policy = (json_object(entry.get("permission_policy")) or {}).get("type")
    return Choice(
        kind,
        str(entry.get("name") or DEFAULT),
        json_object(entry.get("options")) or {},
        "always_allow" if policy == "always_allow" else "always_ask",
    )


def _one(chosen: JSONObject, kind: ExtensionKind) -> Choice:
    entry = json_object(chosen.get(kind))
    return _choice(kind, entry) if entry is not None else _default(kind)


def _many(chosen: JSONObject, kind: ExtensionKind) -> tuple[Choice, ...]:
    entries = json_list(chosen.get(kind)) or []
    return tuple(_choice(kind, entry) for item in entries if (entry := json_object(item)) is not None)
