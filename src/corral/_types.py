"""Shared type aliases. A leaf: imports nothing from corral."""

from __future__ import annotations

from typing import Any, TypeAlias

JSON: TypeAlias = Any
JSONObject: TypeAlias = dict[str, Any]
SessionId: TypeAlias = str
WorkspaceId: TypeAlias = str
EventId: TypeAlias = str
Seq: TypeAlias = int
