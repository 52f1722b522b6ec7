"""What a skill upload may not be, each refused with a clear error in the documented shape and nothing kept:
``SKILL.md`` missing or misplaced, several top-level directories, path traversal and unsafe names, bad front
matter, oversized uploads (413), and, for a skill sent as one zip, symlinks and zip bombs."""

from __future__ import annotations

import io
import secrets
import zipfile
from collections.abc import Iterator

import anthropic
import httpx2
import pytest

from tests.live import LiveServer
from tests.sdk_server import stored_blobs
from tests.skills.conftest import (
    BLOB_LIMIT,
    MIB,
    post_raw,
    skill_files,
    skill_md,
    unique_name,
    unzipped,
    zipped,
)

GOOD = skill_md("tool")
BAD_PATHS = [
    pytest.param([("tool/notes.md", b"x")], "tool/SKILL.md is missing", id="no-skill-md"),
    pytest.param([("tool/docs/SKILL.md", GOOD)], "must be at the root", id="skill-md-too-deep"),
    pytest.param([("SKILL.md", GOOD)], "not inside a directory", id="no-top-level-directory"),
    pytest.param([("tool/SKILL.md", GOOD), ("other/a.md", b"a")], "several top-level", id="two-directories"),
    pytest.param([("tool/SKILL.md", GOOD), ("tool/../etc/passwd", b"x")], "'..'", id="dot-dot"),
    pytest.param([("tool/SKILL.md", GOOD), ("/etc/passwd", b"x")], "absolute", id="absolute"),
    pytest.param([("tool/SKILL.md", GOOD), ("tool/a\x00b", b"x")], "NUL", id="nul"),
    pytest.param([("tool/SKILL.md", GOOD), ("tool/cafe\u0301.md", b"x")], "NFC", id="not-nfc"),
    pytest.param([("tool/SKILL.md", GOOD), ("tool\\evil.md", b"x")], "backslash", id="backslash"),
    pytest.param([("tool/SKILL.md", GOOD), ("tool//a.md", b"x")], "empty", id="empty-component"),
    pytest.param([("tool/SKILL.md", GOOD), ("tool/SKILL.md", GOOD)], "twice", id="duplicate"),
    pytest.param([("tool/SKILL.md", GOOD), ("tool/a", b"x"), ("tool/a/b", b"y")], "both", id="file-and-dir"),
    pytest.param([("tool/SKILL.md", b"# no front matter\n")], "front matter", id="no-front-matter"),
    pytest.param([("tool/SKILL.md", skill_md("tool", None))], "description", id="no-description"),
    pytest.param([("tool/SKILL.md", skill_md("other"))], "must equal its top-level directory", id="name-not-dir"),
    pytest.param([("Tool/SKILL.md", skill_md(None))], "kebab-case", id="name-not-kebab"),
    pytest.param([("tool/SKILL.md", b"---\nname: tool\n")], "never closed", id="front-matter-unclosed"),
    pytest.param([("tool/SKILL.md", b"\xff\xfe---")], "UTF-8", id="not-utf8"),
]


@pytest.fixture
def unchanged(server: LiveServer, client: anthropic.Anthropic) -> Iterator[None]:
    """The test's refusals keep nothing: no new blob, no new skill."""
    blobs, skills = stored_blobs(server), [skill.id for skill in client.beta.skills.list(limit=1000)]
    yield
    assert stored_blobs(server) == blobs
    assert [skill.id for skill in client.beta.skills.list(limit=1000)] == skills


def refused(response: httpx2.Response, status: int = 400) -> str:
    body = response.json()
    assert response.status_code == status and body["type"] == "error", response.text
    return body["error"]["message"]


@pytest.mark.parametrize(("parts", "says"), BAD_PATHS)
@pytest.mark.usefixtures("unchanged")
def test_bad_uploads_are_400(server: LiveServer, parts: list[tuple[str, bytes]], says: str) -> None:
    assert says in refused(post_raw(server, parts))


def test_bad_versions_are_400_and_leave_the_skill_as_it_was(server: LiveServer, client: anthropic.Anthropic) -> None:
    name = unique_name()
    made = client.beta.skills.create(files=skill_files(name))
    for parts in ([(f"{name}/x.md", b"x")], [(f"{name}/SKILL.md", GOOD), (f"{name}/../x", b"x")]):
        refused(post_raw(server, parts, f"/v1/skills/{made.id}/versions"))
    assert client.beta.skills.retrieve(made.id) == made
    assert [version.id for version in client.beta.skills.versions.list(made.id)] == [made.latest_version_id]


@pytest.mark.usefixtures("unchanged")
def test_an_empty_or_malformed_form_is_400(server: LiveServer) -> None:
    assert "no files" in refused(post_raw(server, []))
    with httpx2.Client(base_url=server.base_url, trust_env=False, headers={"x-api-key": server.api_key}) as http:
        refused(http.post("/v1/skills", json={"files": []}))


@pytest.mark.usefixtures("unchanged")
def test_an_oversized_upload_is_413(client: anthropic.Anthropic) -> None:
    name = unique_name()
    halves = [(f"{name}/part-{index}.bin", secrets.token_bytes(BLOB_LIMIT // 2 + 1)) for index in range(2)]
    with pytest.raises(anthropic.APIStatusError) as caught:
        client.beta.skills.create(files=skill_files(name, halves))  # each part fits, together they do not
    assert caught.value.status_code == 413 and caught.value.type == "request_too_large"


def _chunked(boundary: str, name: str, size: int) -> Iterator[bytes]:
    header = f'--{boundary}\r\nContent-Disposition: form-data; name="files[]"; filename="{name}/big.bin"\r\n\r\n'
    yield header.encode()
    for _ in range(size // MIB):
        yield secrets.token_bytes(MIB)
    yield f"\r\n--{boundary}--\r\n".encode()


@pytest.mark.usefixtures("unchanged")
def test_a_streamed_upload_is_refused_as_it_passes_the_limit(server: LiveServer) -> None:
    """No Content-Length: the archive stops at the limit as the bytes come."""
    boundary = secrets.token_hex(8)
    with httpx2.Client(base_url=server.base_url, trust_env=False) as http:
        response = http.post(
            "/v1/skills",
            content=_chunked(boundary, unique_name(), BLOB_LIMIT + 2 * MIB),
            headers={"x-api-key": server.api_key, "content-type": f"multipart/form-data; boundary={boundary}"},
        )
    refused(response, 413)


def test_a_skill_may_come_as_one_zip(client: anthropic.Anthropic) -> None:
    name = unique_name()
    files = skill_files(name)
    archive = zipped([(f"{name}/", b""), *files], executable=f"{name}/scripts/run.py")
    made = client.beta.skills.create(files=[("upload.zip", archive, "application/zip")])
    assert made.display_name == name
    downloaded = client.beta.skills.versions.download("latest", skill_id=made.id).read()
    assert unzipped(downloaded) == dict(files)
    with zipfile.ZipFile(io.BytesIO(downloaded)) as kept:  # an executable stays executable
        modes = {info.filename: (info.external_attr >> 16) & 0o777 for info in kept.infolist()}
    assert modes == {f"{name}/SKILL.md": 0o644, f"{name}/scripts/run.py": 0o755}


BAD_ZIPS = [
    pytest.param(zipped(skill_files("tool"), symlink="tool/link"), 400, "symlink", id="symlink"),
    pytest.param(zipped([("tool/SKILL.md", GOOD), ("tool/../../etc/x", b"x")]), 400, "'..'", id="dot-dot"),
    pytest.param(zipped([("tool/SKILL.md", GOOD), ("/tmp/x", b"x")]), 400, "absolute", id="absolute"),
    pytest.param(zipped([("tool/SKILL.md", GOOD), ("tool/zeros", bytes(BLOB_LIMIT))]), 413, "limit", id="bomb"),
    pytest.param(zipped([(f"tool/{index}", b"") for index in range(1001)]), 400, "at most", id="too-many-entries"),
    pytest.param(b"PK\x03\x04 not really a zip", 400, "not a readable zip", id="not-a-zip"),
]


@pytest.mark.parametrize(("archive", "status", "says"), BAD_ZIPS)
@pytest.mark.usefixtures("unchanged")
def test_bad_zips_are_refused(server: LiveServer, archive: bytes, status: int, says: str) -> None:
    assert says in refused(post_raw(server, [("tool.zip", archive)]), status)


@pytest.mark.usefixtures("unchanged")
def test_a_zip_must_be_the_only_part(server: LiveServer) -> None:
    parts = [("tool.zip", zipped(skill_files("tool"))), ("tool/extra.md", b"x")]
    assert "only file part" in refused(post_raw(server, parts))
