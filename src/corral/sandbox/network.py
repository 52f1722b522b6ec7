"""How a sandbox reaches the network: only through an egress gateway (the proxy lives in ``corral.egress``).

A sandbox has no network interface but loopback. When its environment allows networking, the provider asks
the gateway for a *channel*: a unix socket, one per sandbox, behind which the gateway enforces the
environment's ``networking`` policy on every connection. The socket is bind-mounted into the sandbox.

Invariants: a channel belongs to exactly one sandbox (so the gateway knows which session a connection
comes from); its socket stays the same for the channel's life, whatever happens to the proxy behind it;
closing it refuses new connections at once; the gateway never hands a credential to the sandbox side: what a
channel carries for the sandbox's environment (``env``) are placeholders, which the gateway replaces on the
way out, and ``ca_bundle`` holds certificates only (never a key).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

from corral._types import JSONObject
from corral.sandbox.base import ProvisionNotice


@dataclass(frozen=True)
class EgressChannel:
    channel_id: str
    #: host path of the channel's unix socket (the gateway's, mode 0600; the provider hands it to the sandbox's uid)
    socket_path: str
    #: variables for the sandbox's environment: ``(secret_name, placeholder)`` of the session's credentials
    env: tuple[tuple[str, str], ...] = ()
    #: host path of a CA bundle (the system's CAs and the gateway's) the sandbox must trust, when it intercepts
    ca_bundle: str | None = None
    #: what the session must be told about the channel (a credential none of whose hosts it can reach)
    notices: tuple[ProvisionNotice, ...] = ()


class EgressGateway(ABC):
    """Opens per-sandbox egress channels. Implemented by ``corral.egress.EgressClient``."""

    @abstractmethod
    async def open(self, channel_id: str, networking: JSONObject, session_id: str | None) -> EgressChannel:
        """A new channel enforcing ``networking``; ``session_id`` is None for a warm sandbox not yet claimed."""

    @abstractmethod
    async def assign(self, channel_id: str, session_id: str) -> None:
        """A warm sandbox was claimed: its channel now speaks for ``session_id``."""

    @abstractmethod
    async def close(self, channel_id: str) -> None:
        """Stop the channel (idempotent)."""

    async def warm_claimable(self, session_id: str) -> bool:
        """Whether a warm sandbox (started before its session was known) may serve ``session_id``: not when the
        session's credentials must put placeholders into the sandbox's environment."""
        return True
