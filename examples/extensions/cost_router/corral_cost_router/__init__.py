"""A cost-aware model router: a worked example of ``corral.extend`` (entry point ``cost_aware`` of
``corral.model_routers``).

Options: ``{"cheap": "<model id>", "strong": "<model id>"}`` (model ids as an agent's ``model`` is written, on any
configured provider). A request that answers tool results goes to the cheap model (reading results back is
routine); one that answers a person (planning what to do) goes to the strong model. corral records the choice
and its reason on the request's ``span.model_request_start`` (``model``, ``routed_by``).

``PointLog`` is a turn observer beside it, for tracing.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import anyio.to_thread

from corral.extend import Route, RouteRequest, TurnPoint


class CostAwareRouter:
    def __init__(self, options: Mapping[str, Any]):
        self.cheap = str(options["cheap"])
        self.strong = str(options["strong"])

    async def route(self, request: RouteRequest) -> Route:
        if request.after_tool_results:
            return Route(self.cheap, "tool results: the cheap model reads them back")
        return Route(self.strong, "a person's request: the strong model plans")


class PointLog:
    """A turn observer (entry point ``point_log`` of ``corral.turn_observers``): appends ``<session> <point>`` to the
    file ``options["path"]`` at each named point of a turn, for tracing what the router's turns went through."""

    def __init__(self, options: Mapping[str, Any]):
        self.path = Path(str(options["path"]))

    async def reached(self, point: TurnPoint) -> None:
        await anyio.to_thread.run_sync(_append, self.path, f"{point.session_id} {point.name}")


def _append(path: Path, line: str) -> None:
    with path.open("a") as out:
        out.write(line + "\n")
