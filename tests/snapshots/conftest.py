"""Snapshot tests run on both blob backends: the ``store`` fixtures of ``tests/blobs`` (a directory, and S3 on moto)."""

from tests.blobs.conftest import backend, s3_endpoint, store

__all__ = ["backend", "s3_endpoint", "store"]
