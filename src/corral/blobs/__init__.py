"""Bytes that are not rows, behind one interface (``BlobStore``): content-addressed, streamed, size-limited,
collected when no row references them. Backends: ``local`` (a directory) and ``s3`` (any S3-compatible store);
only composition roots (``corral.compose.blobs``) pick one."""

from corral.blobs.base import BlobInfo, BlobRef, BlobStore, LiveRefs, blob_ref, digest_of

__all__ = ["BlobInfo", "BlobRef", "BlobStore", "LiveRefs", "blob_ref", "digest_of"]
