"""Files (api.md §13): workspace-scoped metadata rows whose bytes live in the blob store.

Public surface: ``FileStore`` (``upload``, ``get``, ``list``, ``content``, ``delete``, and ``live_refs`` for the
blob store's ``collect``), ``FileRecord`` (a row and its ``BetaFileMetadata`` wire form), ``Upload`` (what an
upload says about its bytes) and the ``expires_in_seconds`` bounds.

Independent of ``session``, ``sandbox``, ``catalog`` and ``vault``; uses ``corral.blobs`` only through its
``BlobStore`` interface (composition roots pick the backend) and ``corral.db`` for the rows.

Invariants: a file of another workspace is indistinguishable from one that does not exist (404); a file row names
a blob that was completely stored before the row was committed; a deleted or expired file's blob is no longer in
``live_refs``, so ``collect`` removes it unless another live file holds the same bytes.
"""

from corral.files.names import EXPIRES_MAX_SECONDS, EXPIRES_MIN_SECONDS, Upload
from corral.files.records import FileRecord
from corral.files.store import FileStore

__all__ = ["EXPIRES_MAX_SECONDS", "EXPIRES_MIN_SECONDS", "FileRecord", "FileStore", "Upload"]
