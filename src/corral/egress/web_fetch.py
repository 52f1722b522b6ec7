"""``web_fetch``, a server-side tool: fetch a URL here, outside every sandbox, for the model.

It is a ``ToolExecutor`` for the harness's tool router (the composition root hands it over; the harness never
imports ``egress``). Sandbox ``networking`` does not apply (api.md §19.2); the tool's own ``allowed_domains`` /
``blocked_domains`` do (an entry matches the host and its subdomains, ``*.example.com`` only subdomains, and an
entry with a path, ``example.com/docs``, only URLs under it), and so does the egress safety blocklist:
names are resolved here and the connection goes to the vetted address (TLS still verifies the name).

Invariants: only ``http`` and ``https``; redirects are followed by hand (at most ``MAX_REDIRECTS``), each hop
checked again; at most ``max_bytes`` are read; failures are error results ``"web_fetch: <url>: <reason>"``.
A fetch has no side effects worth journalling, so a repeated ``tool_use_id`` simply fetches again.
"""

from __future__ import annotations

import base64
import ipaddress
import ssl
from typing import Any, Protocol
from urllib.parse import urljoin, urlsplit

import httpx

from corral._types import JSONObject
from corral.egress.html_text import html_to_text
from corral.egress.policy import AddressGuard, HostPolicy, Refused, admit, normalize_host
from corral.sandbox.base import ToolResult
from corral.vocab.tools import WEB_FETCH

MAX_REDIRECTS = 5
IMAGE_MAX = 5 * 1024 * 1024
_TEXT_TYPES = ("text/", "application/json", "application/xml", "application/javascript")


class WebToolCall(Protocol):
    """What the executor reads from the harness's ``ToolCall``."""

    @property
    def input(self) -> JSONObject: ...

    @property
    def config(self) -> JSONObject: ...


def _domain_matches(host: str, path: str, entry: str) -> bool:
    domain, _, prefix = entry.lower().partition("/")
    if prefix and not path.lstrip("/").startswith(prefix):
        return False
    if domain.startswith("*."):
        return host.endswith(domain[1:])
    return host == domain or host.endswith("." + domain)


def check_domains(host: str, path: str, config: JSONObject) -> None:
    allowed: Any = config.get("allowed_domains")
    blocked: Any = config.get("blocked_domains")
    if allowed and not any(_domain_matches(host, path, str(entry)) for entry in allowed):
        raise Refused(f"{host} is not in this tool's allowed_domains")
    if blocked and any(_domain_matches(host, path, str(entry)) for entry in blocked):
        raise Refused(f"{host} is in this tool's blocked_domains")


def _pinned_url(url: str, address: str) -> str:
    parts = urlsplit(url)
    literal = f"[{address}]" if ipaddress.ip_address(address).version == 6 else address
    netloc = f"{literal}:{parts.port}" if parts.port else literal
    return parts._replace(netloc=netloc).geturl()


class WebFetchTool:
    names = frozenset({WEB_FETCH})

    def __init__(self, guard: AddressGuard | None = None, *, max_bytes: int = 10 * 1024 * 1024, timeout: float = 30.0):
        self.guard = guard or AddressGuard()
        self.max_bytes = max_bytes
        self.timeout = timeout
        self._tls = ssl.create_default_context()

    async def execute(self, call: WebToolCall) -> ToolResult:
        url = call.input.get("url")
        if not isinstance(url, str) or not url:
            return ToolResult.error(f"{WEB_FETCH}: url is required and must be a string")
        try:
            return await self._fetch(url, call.config)
        except Refused as exc:
            return ToolResult.error(f"{WEB_FETCH}: {url}: {exc}")
        except httpx.HTTPError as exc:
            return ToolResult.error(f"{WEB_FETCH}: {url}: {type(exc).__name__}: {exc}")

    async def _fetch(self, url: str, config: JSONObject) -> ToolResult:
        async with httpx.AsyncClient(verify=self._tls, trust_env=False, timeout=self.timeout) as client:
            for _ in range(MAX_REDIRECTS + 1):
                response_url, response = await self._hop(client, url, config)
                if response is not None:
                    return response
                url = response_url
        raise Refused(f"more than {MAX_REDIRECTS} redirects")

    async def _hop(self, client: httpx.AsyncClient, url: str, config: JSONObject) -> tuple[str, ToolResult | None]:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or parts.username or parts.password:
            raise Refused("only http and https URLs without credentials can be fetched")
        host = normalize_host(parts.hostname or "")
        if host is None:
            raise Refused("the URL has no valid host")
        check_domains(host, parts.path, config)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        _, address = await admit(HostPolicy(), self.guard, host, port)
        headers = {"Host": parts.netloc.rsplit("@", 1)[-1], "User-Agent": "corral-web-fetch/1", "Accept": "*/*"}
        extensions = {"sni_hostname": host} if parts.scheme == "https" else {}
        request = client.build_request("GET", _pinned_url(url, address), headers=headers, extensions=extensions)
        response = await client.send(request, stream=True)
        try:
            if response.is_redirect and "location" in response.headers:
                return urljoin(url, response.headers["location"]), None
            body = await self._read(response)
        finally:
            await response.aclose()
        return url, self._result(url, response, body, config)

    async def _read(self, response: httpx.Response) -> bytes:
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > self.max_bytes:
                raise Refused(f"the response is larger than {self.max_bytes} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    def _result(self, url: str, response: httpx.Response, body: bytes, config: JSONObject) -> ToolResult:
        if response.status_code >= 400:
            return ToolResult.error(f"{WEB_FETCH}: {url}: HTTP {response.status_code} {response.reason_phrase}")
        kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind == "application/pdf" or kind.startswith("image/"):
            return self._binary(url, kind, body)
        if kind and not kind.startswith(_TEXT_TYPES) and kind not in ("application/xhtml+xml",):
            return ToolResult.error(f"{WEB_FETCH}: {url}: unsupported content type {kind}")
        text = body.decode(response.encoding or "utf-8", errors="replace").replace("\x00", "\ufffd")
        title = ""
        if kind in ("text/html", "application/xhtml+xml"):
            title, text = html_to_text(text)
        limit = config.get("max_content_tokens")
        if isinstance(limit, int) and limit > 0 and len(text) > limit * 4:
            text = text[: limit * 4] + f"\n[truncated to about {limit} tokens]"
        header = f"URL: {url}\n" + (f"Title: {title}\n" if title else "")
        return ToolResult.text(f"{header}\n{text or '(empty document)'}")

    def _binary(self, url: str, kind: str, body: bytes) -> ToolResult:
        if kind.startswith("image/") and kind not in ("image/png", "image/jpeg", "image/gif", "image/webp"):
            return ToolResult.error(f"{WEB_FETCH}: {url}: unsupported image type {kind}")
        if kind.startswith("image/") and len(body) > IMAGE_MAX:
            return ToolResult.error(f"{WEB_FETCH}: {url}: the image is larger than {IMAGE_MAX} bytes")
        block = "document" if kind == "application/pdf" else "image"
        source = {"type": "base64", "media_type": kind, "data": base64.b64encode(body).decode()}
        return ToolResult([{"type": block, "source": source}])
