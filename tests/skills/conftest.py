"""Fixtures of the skills tests: one live ``corral serve`` per engine for the package (local blobs under its data
directory, a small blob limit so the 413 paths stay cheap), the official SDK over loopback, a client of a second
workspace, and helpers that make a skill's files and a raw multipart body (for paths the SDK would not send).
"""

from __future__ import annotations

import io
import secrets
import zipfile
from collections.abc import Iterator, Sequence

import httpx2
import pytest

from tests.conftest import ENGINES
from tests.live import LiveServer
from tests.sdk_server import client, other, package_server

__all__ = ["client", "other"]  # fixtures

MIB = 1024 * 1024
BLOB_LIMIT = 2 * MIB
Files = list[tuple[str, bytes]]


def skill_md(name: str | None, description: str | None = "Does a thing well.", body: str = "# Steps\n") -> bytes:
    lines = ["---"]
    if name is not None:
        lines.append(f"name: {name}")
    if description is not None:
        lines.append(f"description: {description}")
    return ("\n".join([*lines, "---", body])).encode()


def skill_files(name: str, extra: Sequence[tuple[str, bytes]] = ()) -> Files:
    return [(f"{name}/SKILL.md", skill_md(name)), (f"{name}/scripts/run.py", b"print('hi')\n"), *extra]


def unique_name(prefix: str = "skill") -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


def zipped(entries: Sequence[tuple[str, bytes]], *, symlink: str | None = None, executable: str | None = None) -> bytes:
    """A zip of ``entries`` (mode 0644, ``executable`` 0755); ``symlink`` adds an entry of that name marked as a
    symbolic link."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries:
            info = zipfile.ZipInfo(name)
            info.external_attr = (0o40755 if name.endswith("/") else 0o100755 if name == executable else 0o100644) << 16
            archive.writestr(info, data)
        if symlink is not None:
            link = zipfile.ZipInfo(symlink)
            link.external_attr = (0o120777) << 16
            archive.writestr(link, b"/etc/passwd")
    return buffer.getvalue()


def unzipped(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def raw_form(parts: Sequence[tuple[str, bytes]], boundary: str = "corralboundary") -> bytes:
    """A ``files[]`` multipart body whose filenames are sent byte for byte as given (UTF-8, unescaped)."""
    body = bytearray()
    for filename, data in parts:
        body += f"--{boundary}\r\n".encode()
        body += b'Content-Disposition: form-data; name="files[]"; filename="' + filename.encode() + b'"\r\n\r\n'
        body += data + b"\r\n"
    body += f"--{boundary}--\r\n".encode()
    return bytes(body)


def post_raw(server: LiveServer, parts: Sequence[tuple[str, bytes]], path: str = "/v1/skills") -> httpx2.Response:
    with httpx2.Client(base_url=server.base_url, trust_env=False) as http:
        return http.post(
            path,
            content=raw_form(parts),
            headers={"x-api-key": server.api_key, "content-type": "multipart/form-data; boundary=corralboundary"},
        )


@pytest.fixture(scope="package", params=ENGINES)
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with package_server(request, tmp_path_factory, "skills", {"CORRAL_BLOB_MAX_BYTES": str(BLOB_LIMIT)}) as running:
        yield running
