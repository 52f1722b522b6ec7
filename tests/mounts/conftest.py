"""Fixtures of the mounts tests: a real ``LocalSandboxProvider`` per module, and per test the stores a session's
files and outputs live in, on SQLite with local blobs and on PostgreSQL with the S3-protocol store (moto).

``Stack`` is what ``corral.compose.attachments`` builds a part from (the session, file and blob stores) plus
helpers to make a session whose record holds resources, as the resources API writes them (``doc.resources``).
"""

from __future__ import annotations

import itertools
import json
import secrets
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from corral._types import JSONObject
from corral.blobs import BlobStore
from corral.blobs.local import LocalBlobStore
from corral.blobs.s3 import S3BlobStore
from corral.db import Flow, exec_
from corral.db.engines import open_database
from corral.files import FileRecord, FileStore, Upload
from corral.ids import new_id, now, rfc3339
from corral.sandbox import ToolResult
from corral.sandbox.attach import SessionAttachments
from corral.sandbox.hands import Hands
from corral.sandbox.local import LocalSandboxProvider
from corral.sandbox.recipe import Environments
from corral.session import NewSession, SessionStore
from tests.blobs.conftest import TEST_PART_SIZE, fresh_bucket, s3_client, s3_endpoint
from tests.conftest import database_url
from tests.sandbox.conftest import open_provider, text_of

__all__ = ["s3_endpoint"]  # fixtures

WORKSPACE = "wrkspc_test"
LIMIT = 2 * 1024 * 1024
SETUPS = ["sqlite+local", "postgres+s3"]


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
async def provider(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[LocalSandboxProvider]:
    async with open_provider(tmp_path_factory.mktemp("sandbox")) as started:
        yield started


class Calls:
    """A session's sandbox calls through its real ``Hands`` (fresh tool_use ids): ``await calls.ok("read", ...)``."""

    def __init__(self, hands: Hands) -> None:
        self.hands = hands
        self._ids = itertools.count(1)

    async def __call__(self, tool: str, **tool_input: Any) -> ToolResult:
        return await self.hands.execute(tool, tool_input, f"toolu_{secrets.token_hex(4)}{next(self._ids)}")

    async def ok(self, tool: str, **tool_input: Any) -> str:
        result = await self(tool, **tool_input)
        assert not result.is_error, text_of(result)
        return text_of(result)

    async def fails(self, tool: str, **tool_input: Any) -> str:
        result = await self(tool, **tool_input)
        assert result.is_error, text_of(result)
        return text_of(result)


def hands_of(session_id: str, provider: LocalSandboxProvider, attachments: SessionAttachments) -> Calls:
    hands = Hands(session_id, provider, Environments(), "lazy", attachments)
    hands.bind(WORKSPACE, "env_test")
    return Calls(hands)


@dataclass
class Stack:
    sessions: SessionStore
    files: FileStore
    blobs: BlobStore

    async def upload(self, data: bytes, name: str = "notes.txt") -> FileRecord:
        async def body() -> AsyncIterator[bytes]:
            yield data

        stored = await self.files.put(body())
        return await self.files.create(WORKSPACE, Upload(name, "text/plain"), stored)

    async def session(self, *resources: JSONObject) -> str:
        doc: JSONObject = {"agent": {"type": "agent"}, "resources": list(resources)}
        record, _ = await self.sessions.create_session(NewSession(WORKSPACE, "agent_test", 1, "env_test", doc))
        return record.id

    async def set_resources(self, session_id: str, *resources: JSONObject) -> None:
        """Write the session's resources straight into its record, as the resources API's edits leave them (these
        tests are of the attachment layer; ``test_sdk_e2e`` goes through the API)."""
        record = await self.sessions.get_session(session_id)
        await self.sessions.db.write(_write_doc, session_id, {**record.doc, "resources": list(resources)})


def _write_doc(session_id: str, doc: JSONObject) -> Flow[None]:
    yield exec_("UPDATE sessions SET doc = $2 WHERE id = $1", session_id, json.dumps(doc))
    return None


def file_resource(file_id: str, mount_path: str | None = None) -> JSONObject:
    stamp = rfc3339(now())
    return {
        "type": "file",
        "id": new_id("resource"),
        "file_id": file_id,
        "mount_path": mount_path or f"/mnt/session/uploads/{file_id}",
        "created_at": stamp,
        "updated_at": stamp,
    }


@pytest.fixture(params=SETUPS)
async def stack(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncGenerator[Stack]:
    engine, backend = str(request.param).split("+")
    db = open_database(await database_url(engine, tmp_path))
    await db.open()
    sessions = SessionStore(db)
    try:
        if backend == "local":
            blobs = LocalBlobStore(tmp_path / "blobs", max_bytes=LIMIT)
            yield Stack(sessions, FileStore(db, blobs, max_bytes=LIMIT), blobs)
        else:
            async with s3_client(request.getfixturevalue("s3_endpoint")) as client:
                bucket = await fresh_bucket(client)
                blobs = S3BlobStore(client, bucket, "corral/", max_bytes=LIMIT, part_size=TEST_PART_SIZE)
                yield Stack(sessions, FileStore(db, blobs, max_bytes=LIMIT), blobs)
    finally:
        await sessions.aclose()
        await db.close()
