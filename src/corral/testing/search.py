"""``ScriptedSearchServer``: a real loopback server that answers like a SearXNG instance's JSON API.

``GET /search?q=…&format=json[&language=…]`` answers ``{"query", "number_of_results", "results": [{"url",
"title", "content", "engine"}…]}`` from a script mapping a word of the query to its results (the first word of
the script that the query contains wins; no match: no results). ``format`` other than ``json`` is a 403, as a
SearXNG whose ``search.formats`` lacks it answers. Every request is recorded (``requests``: the decoded query
parameters), so a test can check what the backend was asked. ``fail_with`` makes every answer that HTTP status.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from urllib.parse import parse_qs

from corral.testing.http import Request, Responder, ThreadedServer

Hit = Mapping[str, str]
"""``{"url", "title", "content"}``."""


class ScriptedSearchServer(ThreadedServer):
    name = "scripted-search"

    def __init__(self, results: Mapping[str, Sequence[Hit]], *, host: str = "127.0.0.1", port: int = 0):
        self.results = results
        self.fail_with: int | None = None
        self._requests: list[dict[str, str]] = []
        self._lock = threading.Lock()
        super().__init__(self._answer, host=host, port=port)

    @property
    def requests(self) -> list[dict[str, str]]:
        with self._lock:
            return list(self._requests)

    async def _answer(self, request: Request, responder: Responder) -> None:
        if (request.method, request.path) != ("GET", "/search"):
            await responder.json(404, {"error": "not found"})
            return
        params = {name: values[-1] for name, values in parse_qs(request.query).items()}
        with self._lock:
            self._requests.append(params)
        if self.fail_with is not None:
            await responder.json(self.fail_with, {"error": "scripted failure"})
            return
        if params.get("format") != "json":
            await responder.send(403, b"Forbidden", "text/html")
            return
        query = params.get("q", "")
        matching = [hits for word, hits in self.results.items() if word in query]
        hits: Sequence[Hit] = matching[0] if matching else ()
        results = [{**hit, "engine": "scripted"} for hit in hits]
        await responder.json(200, {"query": query, "number_of_results": len(results), "results": results})
