"""The blob store a process uses, chosen from the settings (the only place that picks a backend).

``CORRAL_BLOB_URL`` empty: ``LocalBlobStore`` under ``<CORRAL_DATA_DIR>/blobs`` (one machine); ``s3://bucket/
prefix``: ``S3BlobStore`` on ``CORRAL_S3_ENDPOINT_URL`` (or AWS), shared by every process that names it. Anything
else is a ``ConfigError`` before anything starts. ``CORRAL_BLOB_MAX_BYTES`` caps every ``put``.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager

from corral.blobs import BlobStore
from corral.blobs.local import LocalBlobStore
from corral.blobs.s3 import open_s3_blob_store
from corral.config import Settings
from corral.errors import ConfigError


@asynccontextmanager
async def open_blob_store(settings: Settings) -> AsyncGenerator[BlobStore]:
    """The configured store, open for the ``async with`` (an S3 store's connections close on exit)."""
    url = settings.blob_url
    if not url:
        yield LocalBlobStore(settings.data_dir / "blobs", max_bytes=settings.blob_max_bytes)
    elif url.startswith("s3://"):
        async with open_s3_blob_store(
            url, endpoint_url=settings.s3_endpoint_url, max_bytes=settings.blob_max_bytes
        ) as store:
            yield store
    else:
        raise ConfigError(f"CORRAL_BLOB_URL={url!r}: expected empty (the data dir) or s3://bucket/prefix")
