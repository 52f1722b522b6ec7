"""``web_search``, a server-side tool: search the web here, outside every sandbox, through a pluggable backend.

It is a ``ToolExecutor`` for the harness's tool router (wired by the composition root when a backend is
configured: ``CORRAL_WEB_SEARCH_URL``). The first backend is a self-hosted SearXNG instance's JSON API
(``GET /search?q=…&format=json``); another backend implements ``SearchBackend``.

The tool's settings (api.md §19.2): ``allowed_domains`` / ``blocked_domains`` filter the results by the same
rule as ``web_fetch`` (an entry matches the host and its subdomains, ``*.example.com`` only subdomains); the
``allowed_domains`` are also sent to the backend as ``site:`` terms so that it looks there first;
``user_location.country`` selects the search region (SearXNG's ``language``, e.g. ``fr-FR``).

Invariants: the backend is the operator's own service, so it is reached directly (not through the sandbox
egress); at most ``MAX_RESULTS`` results; a backend failure is an error result ``"web_search: <reason>"``,
never an exception out of the executor. A search has no side effects, so a repeated ``tool_use_id`` searches again.
"""

from __future__ import annotations

import locale
from collections import Counter
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

import httpx

from corral._types import JSONObject, json_list, json_object
from corral.egress.policy import Refused
from corral.egress.web_fetch import WebToolCall, check_domains
from corral.sandbox.base import ToolResult
from corral.vocab.tools import WEB_SEARCH

MAX_RESULTS = 10


@dataclass(frozen=True)
class SearchHit:
    url: str
    title: str
    snippet: str


class SearchBackend(Protocol):
    async def search(self, query: str, *, region: str | None) -> list[SearchHit]:
        """Results for ``query`` (``region``: a locale such as ``fr-FR``, or None); raises ``SearchFailed``."""
        ...

    async def aclose(self) -> None: ...


class SearchFailed(Exception):
    pass


class SearXNG:
    """A SearXNG instance's JSON API (its ``search.formats`` setting must include ``json``)."""

    def __init__(self, base_url: str, *, timeout: float = 20.0):
        self._base = base_url.rstrip("/")
        self._client = httpx.AsyncClient(timeout=timeout, trust_env=False)

    async def search(self, query: str, *, region: str | None) -> list[SearchHit]:
        params = {"q": query, "format": "json", "language": region or "all"}
        try:
            response = await self._client.get(f"{self._base}/search", params=params)
        except httpx.HTTPError as exc:
            raise SearchFailed(f"the search backend is unreachable ({type(exc).__name__})") from None
        if response.status_code != 200:
            raise SearchFailed(f"the search backend answered HTTP {response.status_code}")
        try:
            body = json_object(response.json())
        except ValueError:
            body = None
        if body is None:
            raise SearchFailed("the search backend did not answer with a JSON object (is format=json enabled?)")
        return [hit for raw in json_list(body.get("results")) or [] if (hit := _hit(raw)) is not None]

    async def aclose(self) -> None:
        await self._client.aclose()


def _hit(raw: object) -> SearchHit | None:
    item = json_object(raw)
    url = item.get("url") if item is not None else None
    if item is None or not isinstance(url, str) or not url.startswith(("http://", "https://")):
        return None
    return SearchHit(url, str(item.get("title") or url), str(item.get("content") or ""))


def region_of(country: str | None) -> str | None:
    """A locale for an ISO 3166-1 country code (``FR`` → ``fr-FR``), from the C library's locale aliases."""
    if not country:
        return None
    code = country.upper()
    languages = Counter(
        alias.split("_", 1)[0] for alias in locale.locale_alias.values() if alias.partition(".")[0].endswith(f"_{code}")
    )
    if not languages:
        return None
    language = code.lower() if code.lower() in languages else languages.most_common(1)[0][0]
    return f"{language}-{code}"


class WebSearchTool:
    names = frozenset({WEB_SEARCH})

    def __init__(self, backend: SearchBackend):
        self.backend = backend

    async def execute(self, call: WebToolCall) -> ToolResult:
        query = call.input.get("query")
        if not isinstance(query, str) or not query.strip():
            return ToolResult.error(f"{WEB_SEARCH}: query is required and must be a string")
        config = call.config
        allowed = [str(domain) for domain in json_list(config.get("allowed_domains")) or []]
        location = json_object(config.get("user_location")) or {}
        country = location.get("country")
        scoped = " ".join([query, *(f"site:{domain.removeprefix('*.')}" for domain in allowed)])
        try:
            hits = await self.backend.search(scoped, region=region_of(country if isinstance(country, str) else None))
        except SearchFailed as exc:
            return ToolResult.error(f"{WEB_SEARCH}: {exc}")
        kept = [hit for hit in hits if _admitted(hit, config)][:MAX_RESULTS]
        if not kept:
            return ToolResult.text(f"no results for {query!r}")
        return ToolResult([_block(hit) for hit in kept])

    async def aclose(self) -> None:
        await self.backend.aclose()


def _admitted(hit: SearchHit, config: JSONObject) -> bool:
    parts = urlsplit(hit.url)
    try:
        check_domains((parts.hostname or "").lower(), parts.path, config)
    except Refused:
        return False
    return True


def _block(hit: SearchHit) -> JSONObject:
    return {
        "type": "search_result",
        "source": hit.url,
        "title": hit.title,
        "content": [{"type": "text", "text": hit.snippet}] if hit.snippet else [],
        "citations": {"enabled": False},
    }
