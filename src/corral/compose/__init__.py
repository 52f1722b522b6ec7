"""The composition root: the one place that picks concrete parts (storage engine, sandbox provider, egress,
server-side tools) and wires them together. ``corral serve`` (through ``corral.api``), ``corral worker``,
``corral migrate``, ``corral keys`` and ``corral bench`` all start from here; nothing below it chooses a backend.
"""

from corral.compose.services import Services, StreamStats, open_services

__all__ = ["Services", "StreamStats", "open_services"]
