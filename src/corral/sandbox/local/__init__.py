"""The local sandbox provider: bubblewrap sandboxes on this machine (see ``provider``)."""

from corral.sandbox.local.host import LocalOptions
from corral.sandbox.local.provider import LocalSandboxProvider

__all__ = ["LocalOptions", "LocalSandboxProvider"]
