"""``client.beta.files`` through the official SDK, on both engines with the local blob store: every method, the
response forms, pagination, workspace scoping, size limits and the documented refusals."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterator
from datetime import datetime, timedelta

import anthropic
import httpx2
import pytest
from anthropic.types.beta import BetaDeletedFile, BetaFileMetadata

from tests.conformance.helpers import validated
from tests.files.conftest import BLOB_LIMIT, MIB
from tests.live import LiveServer
from tests.sdk_server import stored_blobs


def upload(client: anthropic.Anthropic, name: str, data: bytes, mime: str = "text/plain") -> BetaFileMetadata:
    return client.beta.files.upload(file=(name, data, mime))


def test_upload_retrieve_list_download_delete(client: anthropic.Anthropic) -> None:
    data = b"hello, corral\n"
    raw = client.beta.files.with_raw_response.upload(file=("notes/today.txt", data, "text/plain"))
    made = validated(BetaFileMetadata, raw)
    assert made.id.startswith("file_") and made.type == "file"
    assert made.filename == "today.txt" and made.mime_type == "text/plain" and made.size_bytes == len(data)
    assert made.downloadable is True and made.expires_at is None and made.scope is None
    assert validated(BetaFileMetadata, client.beta.files.with_raw_response.retrieve_metadata(made.id)) == made
    assert made.id in [listed.id for listed in client.beta.files.list(limit=100)]
    downloaded = client.beta.files.download(made.id)
    assert downloaded.read() == data and downloaded.headers["content-type"].startswith("text/plain")
    deleted = validated(BetaDeletedFile, client.beta.files.with_raw_response.delete(made.id))
    assert deleted.id == made.id and deleted.type == "file_deleted"
    for call in (client.beta.files.retrieve_metadata, client.beta.files.download, client.beta.files.delete):
        with pytest.raises(anthropic.NotFoundError):
            call(made.id)
    assert made.id not in [listed.id for listed in client.beta.files.list(limit=100)]


def test_a_multi_mib_file_downloads_byte_exact(client: anthropic.Anthropic) -> None:
    data = secrets.token_bytes(5 * MIB + 12345)  # several of the store's 1 MiB read chunks, and a ragged end
    made = upload(client, "blob.bin", data, "application/octet-stream")
    assert made.size_bytes == len(data) and made.mime_type == "application/octet-stream"
    with client.beta.files.with_streaming_response.download(made.id) as response:
        digest, size = hashlib.sha256(), 0
        for chunk in response.iter_bytes():
            digest.update(chunk)
            size += len(chunk)
    assert size == len(data) and digest.digest() == hashlib.sha256(data).digest()


def test_names_and_mime_types(client: anthropic.Anthropic) -> None:
    assert upload(client, "C:\\Users\\me\\report.csv", b"a,b\n", "text/csv").filename == "report.csv"
    guessed = client.beta.files.upload(file=("page.html", b"<p>hi</p>", "application/octet-stream"))
    assert guessed.mime_type == "text/html"
    unnamed = client.beta.files.upload(file=("", b"{}", "application/json"))
    assert unnamed.filename == "unnamed.json" and unnamed.mime_type == "application/json"


def test_expires_in_seconds_is_honoured_or_refused(client: anthropic.Anthropic) -> None:
    made = client.beta.files.upload(file=("soon.txt", b"x", "text/plain"), expires_in_seconds=3600)
    assert made.expires_at is not None and made.expires_at - made.created_at == timedelta(seconds=3600)
    assert client.beta.files.download(made.id).read() == b"x"  # not expired yet
    for wrong in (59, 7_776_001):
        with pytest.raises(anthropic.BadRequestError, match="expires_in_seconds"):
            client.beta.files.upload(file=("x.txt", b"x", "text/plain"), expires_in_seconds=wrong)


def test_list_pages_to_the_end_newest_first(client: anthropic.Anthropic) -> None:
    made = [upload(client, f"page-{index}.txt", f"{index}".encode()).id for index in range(5)]
    seen = [listed.id for listed in client.beta.files.list(limit=2)]  # the SDK's auto-pager follows next_page
    assert len(seen) == len(set(seen))
    assert [file_id for file_id in seen if file_id in made] == made[::-1]
    first = client.beta.files.list(limit=2)
    assert len(first.data) == 2 and first.next_page is not None
    with pytest.raises(anthropic.BadRequestError):
        client.beta.files.list(limit=1001)
    with pytest.raises(anthropic.BadRequestError):
        client.beta.files.list(page="page_nonsense")


def test_ids_filter_is_one_page_and_omits_unknown_ids(client: anthropic.Anthropic) -> None:
    made = [upload(client, f"id-{index}.txt", b"i").id for index in range(3)]
    listed = client.beta.files.list(ids=[made[0], made[2], "file_nothing", made[0]])
    assert [item.id for item in listed.data] == [made[2], made[0]] and listed.next_page is None
    with pytest.raises(anthropic.BadRequestError):
        client.beta.files.list(ids=[made[0]], limit=5)
    with pytest.raises(anthropic.BadRequestError):
        client.beta.files.list(ids=[f"file_{index}" for index in range(101)])


def test_scope_id_lists_only_that_scope(client: anthropic.Anthropic) -> None:
    upload(client, "unscoped.txt", b"u")
    assert client.beta.files.list(scope_id="sesn_0123456789abcdefghijklmn").data == []


def test_another_workspace_sees_nothing(client: anthropic.Anthropic, other: anthropic.Anthropic) -> None:
    made = upload(client, "mine.txt", b"mine")
    for call in (other.beta.files.retrieve_metadata, other.beta.files.download, other.beta.files.delete):
        with pytest.raises(anthropic.NotFoundError):
            call(made.id)
    assert made.id not in [listed.id for listed in other.beta.files.list(limit=1000)]
    assert other.beta.files.list(ids=[made.id]).data == []
    assert client.beta.files.retrieve_metadata(made.id) == made  # the owner's delete was refused, not done


def test_an_oversized_upload_is_refused_with_nothing_stored(server: LiveServer, client: anthropic.Anthropic) -> None:
    before = stored_blobs(server)
    count = len(client.beta.files.list(limit=1000).data)
    with pytest.raises(anthropic.APIStatusError) as refused:
        upload(client, "big.bin", secrets.token_bytes(BLOB_LIMIT + 256 * 1024))  # refused on Content-Length
    assert refused.value.status_code == 413 and refused.value.type == "request_too_large"
    assert stored_blobs(server) == before and len(client.beta.files.list(limit=1000).data) == count


def _chunked_form(boundary: str, size: int) -> Iterator[bytes]:
    yield f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.bin"\r\n\r\n'.encode()
    for _ in range(size // MIB):
        yield secrets.token_bytes(MIB)
    yield f"\r\n--{boundary}--\r\n".encode()


def test_a_streamed_upload_is_refused_as_it_passes_the_limit(server: LiveServer, client: anthropic.Anthropic) -> None:
    """Without a Content-Length the route sees the size only as the bytes come: the blob store stops at the limit
    and keeps nothing."""
    before = stored_blobs(server)
    boundary = secrets.token_hex(8)
    with httpx2.Client(base_url=server.base_url, trust_env=False) as http:
        response = http.post(
            "/v1/files",
            content=_chunked_form(boundary, BLOB_LIMIT + 2 * MIB),
            headers={"x-api-key": server.api_key, "content-type": f"multipart/form-data; boundary={boundary}"},
        )
    assert response.status_code == 413 and response.json()["error"]["type"] == "request_too_large"
    assert stored_blobs(server) == before
    assert all(item.filename != "big.bin" for item in client.beta.files.list(limit=1000))


def test_malformed_uploads_are_400(server: LiveServer) -> None:
    with httpx2.Client(base_url=server.base_url, trust_env=False, headers={"x-api-key": server.api_key}) as http:
        not_a_form = http.post("/v1/files", json={"file": "x"})
        no_file = http.post("/v1/files", files={"other": ("a.txt", b"a")})
        cut = http.post(
            "/v1/files",
            content=b'--b\r\nContent-Disposition: form-data; name="file"; filename="a"\r\n\r\nabc',
            headers={"content-type": "multipart/form-data; boundary=b"},
        )
    for response in (not_a_form, no_file, cut):
        assert response.status_code == 400 and response.json()["error"]["type"] == "invalid_request_error"


def test_unknown_upload_fields_are_refused_by_name(server: LiveServer, client: anthropic.Anthropic) -> None:
    with httpx2.Client(base_url=server.base_url, trust_env=False, headers={"x-api-key": server.api_key}) as http:
        documented = http.post("/v1/files", files={"file": ("a.txt", b"a")}, data={"purpose": "agent"})
        unknown = http.post("/v1/files", files={"file": ("b.txt", b"b")}, data={"scope": "mine"})
    assert documented.status_code == 200
    assert unknown.status_code == 400 and unknown.json()["error"]["message"].startswith("scope:")
    assert [f.filename for f in client.beta.files.list()].count("b.txt") == 0


def test_created_at_is_rfc3339(client: anthropic.Anthropic) -> None:
    made = upload(client, "when.txt", b"w")
    assert isinstance(made.created_at, datetime) and made.created_at.tzinfo is not None
