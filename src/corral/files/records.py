"""File rows as immutable records, and their wire form (``BetaFileMetadata``)."""

from __future__ import annotations

from dataclasses import dataclass

from corral._types import JSONObject
from corral.blobs import BlobRef
from corral.db import Row

FILE_COLUMNS = (
    "id, workspace_id, blob_ref, filename, mime_type, size_bytes, downloadable, scope_id, created_at, expires_at"
)


@dataclass(frozen=True)
class FileRecord:
    id: str
    workspace_id: str
    blob_ref: BlobRef
    filename: str
    mime_type: str
    size_bytes: int
    downloadable: bool
    scope_id: str | None
    created_at: str
    expires_at: str | None

    @classmethod
    def from_row(cls, row: Row) -> FileRecord:
        return cls(
            id=str(row["id"]),
            workspace_id=str(row["workspace_id"]),
            blob_ref=BlobRef(str(row["blob_ref"])),
            filename=str(row["filename"]),
            mime_type=str(row["mime_type"]),
            size_bytes=int(row["size_bytes"]),
            downloadable=bool(row["downloadable"]),
            scope_id=None if row["scope_id"] is None else str(row["scope_id"]),
            created_at=str(row["created_at"]),
            expires_at=None if row["expires_at"] is None else str(row["expires_at"]),
        )

    def expired(self, at: str) -> bool:
        """Whether the file's bytes are gone for good at the RFC 3339 instant ``at`` (text order is time order)."""
        return self.expires_at is not None and self.expires_at <= at

    def wire(self) -> JSONObject:
        scope: JSONObject | None = None if self.scope_id is None else {"type": "session", "id": self.scope_id}
        return {
            "type": "file",
            "id": self.id,
            "filename": self.filename,
            "mime_type": self.mime_type,
            "size_bytes": self.size_bytes,
            "created_at": self.created_at,
            "downloadable": self.downloadable,
            "expires_at": self.expires_at,
            "scope": scope,
        }
