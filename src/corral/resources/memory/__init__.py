"""Memory stores in sessions' sandboxes (api.md §12.2): ``MemoryAttachments`` mounts each attached store as a
directory and writes what the session changes there back as versions (``attachments``); the copy on the host
(``tree``), what changed in it (``scan``) and keeping it in step with the store (``sync``)."""

from corral.resources.memory.attachments import MemoryAttachments

__all__ = ["MemoryAttachments"]
