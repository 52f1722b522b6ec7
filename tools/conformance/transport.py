"""The SDK client's transport during a conformance test: it swaps the test's made-up ids and fixed names for real
ones on the way out, and records every exchange on the way back.

Invariants:

* Only inputs change: path segments, query values, header values and JSON bodies. The response reaches the SDK
  exactly as corral sent it, so every assertion and every strict model validation of the test sees the truth.
* A distinctive placeholder is replaced wherever it is a whole string; a keyed one only as the value of its key
  (query parameter or JSON member, ``vault_ids[]`` counts as ``vault_ids``); a top-level ``name`` the test
  fixed is made unique. Nothing else is touched (bodies that are not JSON pass unchanged).
* Every request that reaches corral is recorded with its status and, for a refusal, the error body and the
  request's body (JSON as sent; a multipart body as its parts' names and filenames): the runner classifies
  failures from these records, never from exception text.
"""

from __future__ import annotations

import json
import re
import ssl
from dataclasses import dataclass, field
from typing import Any, cast
from urllib.parse import quote, unquote

import httpx2

from tools.conformance.placeholders import NAME_KEYS, Placeholder
from tools.conformance.seeds import unique


@dataclass(frozen=True)
class Exchange:
    method: str
    path: str
    query: list[tuple[str, str]]
    status: int
    body: Any = None  # the request's JSON body, kept for refusals only (the runner classifies them by it)
    error: dict[str, Any] | None = None  # the ``error`` object of a refusal, when corral sent one

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Exchange:
        query = [(str(k), str(v)) for k, v in doc["query"]]
        return cls(doc["method"], doc["path"], query, int(doc["status"]), doc.get("body"), doc.get("error"))

    def as_json(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "status": self.status,
            "body": self.body,
            "error": self.error,
        }


@dataclass
class Rewriter:
    mapping: dict[Placeholder, str]
    names: frozenset[str] = frozenset()
    anywhere: dict[str, str] = field(init=False)
    keyed: dict[tuple[str, str], str] = field(init=False)

    def __post_init__(self) -> None:
        self.anywhere = {p.value: real for p, real in self.mapping.items() if p.key is None}
        self.keyed = {(p.key, p.value): real for p, real in self.mapping.items() if p.key is not None}

    def value(self, key: str | None, text: str) -> str:
        if key is not None and (key.removesuffix("[]"), text) in self.keyed:
            return self.keyed[(key.removesuffix("[]"), text)]
        return self.anywhere.get(text, text)

    def path(self, raw: str) -> str:
        return "/".join(quote(self.value(None, unquote(part)), safe="") for part in raw.split("/"))

    def body(self, doc: Any, key: str | None = None, top: bool = True) -> Any:
        if isinstance(doc, dict):
            members = cast(dict[str, Any], doc)
            return {k: self._member(k, v, top) for k, v in members.items()}
        if isinstance(doc, list):
            return [self.body(item, key, top=False) for item in cast(list[Any], doc)]
        if isinstance(doc, str):
            return self.value(key, doc)
        return doc

    def _member(self, key: str, value: Any, top: bool) -> Any:
        if top and key in NAME_KEYS and isinstance(value, str) and value in self.names:
            return unique(value)
        return self.body(value, key, top=False)

    def request(self, request: httpx2.Request) -> httpx2.Request:
        url = request.url
        query = [(k, self.value(k, v)) for k, v in url.params.multi_items()]
        new_url = url.copy_with(path=self.path(url.path), params=query)
        headers = [(k, self.value(None, v)) for k, v in request.headers.multi_items() if k.lower() != "content-length"]
        content = request.content
        if content and request.headers.get("content-type", "").startswith("application/json"):
            content = json.dumps(self.body(json.loads(content))).encode()
        return httpx2.Request(request.method, new_url, headers=headers, content=content, extensions=request.extensions)


def _json(content: bytes) -> Any:
    try:
        return json.loads(content or b"null")
    except ValueError:
        return None


_DISPOSITION = re.compile(rb'content-disposition: form-data; name="([^"]*)"(; filename="([^"]*)")?', re.IGNORECASE)


def _form_parts(content: bytes) -> list[dict[str, Any]]:
    """A multipart body's parts as ``{"name", "filename"}`` (None when the part has none), for refusals."""
    return [
        {"name": name.decode(errors="replace"), "filename": None if not has else filename.decode(errors="replace")}
        for name, has, filename in _DISPOSITION.findall(content)
    ]


def _request_body(request: httpx2.Request) -> Any:
    kind = request.headers.get("content-type", "")
    if kind.startswith("application/json"):
        return _json(request.content)
    if kind.startswith("multipart/form-data"):
        return {"multipart": _form_parts(request.content)}
    return None


def _exchange(request: httpx2.Request, response: httpx2.Response) -> Exchange:
    query = list(request.url.params.multi_items())
    if response.status_code < 400:
        return Exchange(request.method, request.url.path, query, response.status_code)
    body = _request_body(request)
    parsed = _json(response.content)
    error: Any = cast(dict[str, Any], parsed).get("error") if isinstance(parsed, dict) else None
    error = cast(dict[str, Any], error) if isinstance(error, dict) else None
    return Exchange(request.method, request.url.path, query, response.status_code, body, error)


class RewritingTransport(httpx2.BaseTransport):
    """One test's sync transport. It sends through the run's shared connection pool, which it does not own:
    closing it (the SDK client closes its transport) leaves the pool to the next test."""

    def __init__(self, rewriter: Rewriter, log: list[Exchange], pool: httpx2.BaseTransport) -> None:
        self.rewriter, self.log, self.pool = rewriter, log, pool

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        request.read()
        sent = self.rewriter.request(request)
        response = self.pool.handle_request(sent)
        if response.status_code >= 400:
            response.read()
        self.log.append(_exchange(sent, response))
        return response

    def close(self) -> None:
        pass


class AsyncRewritingTransport(httpx2.AsyncBaseTransport):
    """One test's async transport, with a pool of its own (each async test runs in its own event loop)."""

    def __init__(self, rewriter: Rewriter, log: list[Exchange], tls: ssl.SSLContext) -> None:
        self.rewriter, self.log = rewriter, log
        self.pool = httpx2.AsyncHTTPTransport(verify=tls, trust_env=False)

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        await request.aread()
        sent = self.rewriter.request(request)
        response = await self.pool.handle_async_request(sent)
        if response.status_code >= 400:
            await response.aread()
        self.log.append(_exchange(sent, response))
        return response

    async def aclose(self) -> None:
        await self.pool.aclose()
