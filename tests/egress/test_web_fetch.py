"""``web_fetch`` as the harness's tool router calls it (``ToolCall``), against loopback upstreams exempted from
the safety blocklist only for these tests."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from corral.config import Settings
from corral.egress.policy import AddressGuard, host_addresses
from corral.egress.process import address_guard
from corral.egress.web_fetch import WebFetchTool
from corral.harness.router import ToolCall
from corral.sandbox import ToolResult

pytestmark = pytest.mark.anyio
PAGE = b"""<html><head><title>Corral  docs</title><style>p{color:red}</style><script>evil()</script></head>
<body><h1>Hello</h1><p>First <a href="https://example.com/more">more</a> paragraph.</p><ul><li>one</li><li>two</li></ul>
</body></html>"""
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 32


class _Site(http.server.BaseHTTPRequestHandler):
    routes: dict[str, tuple[int, dict[str, str], bytes]] = {}

    def do_GET(self) -> None:
        status, headers, body = self.routes.get(self.path, (404, {"Content-Type": "text/plain"}, b"nope"))
        self.send_response(status)
        for name, value in {**headers, "Content-Length": str(len(body))}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def site() -> Iterator[int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Site)
    port = server.server_address[1]
    _Site.routes = {
        "/page": (200, {"Content-Type": "text/html; charset=utf-8"}, PAGE),
        "/plain": (200, {"Content-Type": "text/plain"}, b"x" * 1000),
        "/hop": (302, {"Location": "/page"}, b""),
        "/loop": (302, {"Location": "/loop"}, b""),
        "/to-metadata": (302, {"Location": "http://169.254.169.254/latest/"}, b""),
        "/pixel.png": (200, {"Content-Type": "image/png"}, PNG),
        "/doc.pdf": (200, {"Content-Type": "application/pdf"}, b"%PDF-1.4\n%%EOF\n"),
        "/big": (200, {"Content-Type": "text/plain"}, b"y" * 300_000),
        "/binary": (200, {"Content-Type": "application/octet-stream"}, b"\0\1"),
    }
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield port
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def tool(site: int) -> WebFetchTool:
    return WebFetchTool(AddressGuard(exempt=frozenset({("127.0.0.1", site)})), max_bytes=200_000)


async def fetch(tool: WebFetchTool, url: str, **config: Any) -> ToolResult:
    return await tool.execute(ToolCall("sesn_1", "toolu_1", "web_fetch", {"url": url}, config))


def text(result: ToolResult) -> str:
    return str(result.content[0].get("text", ""))


async def test_html_is_reduced_to_text_with_title_and_links(tool: WebFetchTool, site: int) -> None:
    result = await fetch(tool, f"http://localhost:{site}/page")
    assert not result.is_error
    assert text(result) == (
        f"URL: http://localhost:{site}/page\nTitle: Corral docs\n\n"
        "Hello\n\nFirst more (https://example.com/more) paragraph.\n\none\n\ntwo"
    )


async def test_redirects_are_followed_and_each_hop_is_checked(tool: WebFetchTool, site: int) -> None:
    assert text(await fetch(tool, f"http://127.0.0.1:{site}/hop")).startswith(f"URL: http://127.0.0.1:{site}/page\n")
    to_metadata = await fetch(tool, f"http://127.0.0.1:{site}/to-metadata")
    assert to_metadata.is_error and "169.254.169.254 is blocked" in text(to_metadata)
    looping = await fetch(tool, f"http://127.0.0.1:{site}/loop")
    assert text(looping) == f"web_fetch: http://127.0.0.1:{site}/loop: more than 5 redirects"


async def test_allowed_and_blocked_domains(tool: WebFetchTool, site: int) -> None:
    url = f"http://localhost:{site}/page"
    assert not (await fetch(tool, url, allowed_domains=["localhost"])).is_error
    assert not (await fetch(tool, url, allowed_domains=["localhost/page"])).is_error
    assert text(await fetch(tool, url, allowed_domains=["localhost/docs"])) == (
        f"web_fetch: {url}: localhost is not in this tool's allowed_domains"
    )
    assert text(await fetch(tool, url, allowed_domains=["*.localhost"])).endswith("not in this tool's allowed_domains")
    assert text(await fetch(tool, url, blocked_domains=["localhost"])) == (
        f"web_fetch: {url}: localhost is in this tool's blocked_domains"
    )


async def test_the_safety_blocklist_applies(tool: WebFetchTool, site: int) -> None:
    for url in ("http://169.254.169.254/latest/", f"http://127.0.0.1:{site + 1}/", "http://[::1]/", "http://10.0.0.1/"):
        result = await fetch(tool, url)
        assert result.is_error and "is a private, loopback, link-local or reserved address" in text(result), url


async def test_web_fetch_uses_the_egress_address_rule_and_its_operator_setting(site: int) -> None:
    """The composition root builds the tool's guard from ``CORRAL_EGRESS_ALLOW_PRIVATE`` (``address_guard``)."""
    own = next(str(a) for a in host_addresses() if not a.is_loopback)
    default = WebFetchTool(address_guard(Settings()))
    for address in ("192.0.2.1", "100.64.0.1", "198.18.0.1", "2002:a00:1::1", "64:ff9b::a00:1", own):
        result = await fetch(default, f"http://[{address}]/" if ":" in address else f"http://{address}/")
        assert result.is_error and ("not globally routable" in text(result) or "corral host" in text(result)), address
    opened = WebFetchTool(address_guard(Settings(egress_allow_private=("127.0.0.1/32",))))
    assert text(await fetch(opened, f"http://127.0.0.1:{site}/plain")).startswith("URL: ")
    assert "not globally routable" in text(await fetch(default, f"http://127.0.0.1:{site}/plain"))


async def test_bad_urls_are_refused(tool: WebFetchTool, site: int) -> None:
    for url in ("file:///etc/passwd", "ftp://example.com/", f"http://user:pw@127.0.0.1:{site}/page", "http:///x"):
        assert (await fetch(tool, url)).is_error, url
    missing = await tool.execute(ToolCall("s", "t", "web_fetch", {}, {}))
    assert text(missing) == "web_fetch: url is required and must be a string"


async def test_http_errors_sizes_and_types(tool: WebFetchTool, site: int) -> None:
    base = f"http://127.0.0.1:{site}"
    assert text(await fetch(tool, f"{base}/absent")) == f"web_fetch: {base}/absent: HTTP 404 Not Found"
    assert text(await fetch(tool, f"{base}/big")) == f"web_fetch: {base}/big: the response is larger than 200000 bytes"
    assert text(await fetch(tool, f"{base}/binary")).endswith("unsupported content type application/octet-stream")
    truncated = text(await fetch(tool, f"{base}/plain", max_content_tokens=10))
    assert truncated.endswith("x" * 40 + "\n[truncated to about 10 tokens]")


async def test_images_and_pdfs_are_content_blocks(tool: WebFetchTool, site: int) -> None:
    image = await fetch(tool, f"http://127.0.0.1:{site}/pixel.png")
    assert image.content[0]["type"] == "image" and image.content[0]["source"]["media_type"] == "image/png"
    document = await fetch(tool, f"http://127.0.0.1:{site}/doc.pdf")
    assert document.content[0]["type"] == "document"
