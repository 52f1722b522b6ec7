"""The composition root: the one place that picks concrete parts (storage engine, sandbox provider, egress,
server-side tools) and wires them together. ``corral serve`` (through ``corral.api``), ``corral worker``,
``corral migrate``, ``corral keys`` and ``corral bench`` all start from here; nothing below it chooses a backend.

This ``__init__`` imports nothing, so that a command needing one small part (``corral webhooks``, ``corral keys``)
does not load every part (the model SDKs, the MCP client, the S3 client): import from the submodules
(``corral.compose.services`` for ``Services`` and ``open_services``).
"""
