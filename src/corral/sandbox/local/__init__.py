"""The local sandbox provider: bubblewrap sandboxes on this machine (see ``provider``)."""

from corral.sandbox.local.provider import LocalOptions, LocalSandboxProvider

__all__ = ["LocalOptions", "LocalSandboxProvider"]
