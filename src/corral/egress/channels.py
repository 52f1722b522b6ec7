"""Egress channels: one per sandbox, each a listening unix socket whose connections are bridged into the proxy.

The socket itself belongs to corral's side (``EgressClient`` creates it and hands it over); the proxy serves it
under the channel's ``Slots`` (a cap on connections open at once).

Invariants: a bridge registers the local port of its connection to the proxy *before* relaying a byte, so the
proxy's hooks can always tell which channel a connection belongs to; the registration is dropped when the
connection ends; closing a channel stops serving its socket and cuts its open connections, and the channel's
secrets (``injections``, ``repositories``) are referenced nowhere else, so they leave the proxy's memory with it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import cast

import anyio

from corral.egress.accept import Slots
from corral.egress.injection import Injection
from corral.egress.policy import HostPolicy
from corral.egress.repositories import RepositoryToken


@dataclass
class Channel:
    channel_id: str
    policy: HostPolicy
    session_id: str | None
    slots: Slots
    #: identity of the listening socket served (its inode in sockfs): a replayed ``open`` of it is an update
    socket_inode: int
    scope: anyio.CancelScope = field(default_factory=anyio.CancelScope)
    #: the session's placeholders and their secrets (``injection``); dropped with the channel
    injections: tuple[Injection, ...] = ()
    #: the session's repositories and their tokens (``repositories``); dropped with the channel
    repositories: tuple[RepositoryToken, ...] = ()

    @property
    def secrets(self) -> tuple[str, ...]:
        """Every secret of the channel, in every form a response might echo to the sandbox."""
        return tuple(i.value for i in self.injections) + tuple(s for r in self.repositories for s in r.secrets)


class Channels:
    def __init__(self) -> None:
        self.by_id: dict[str, Channel] = {}
        self._peers: dict[int, Channel] = {}

    def for_peer(self, peername: object) -> Channel | None:
        """The channel of the forwarder connection whose (host, port) is ``peername``."""
        if not isinstance(peername, tuple):
            return None
        address = cast(tuple[object, ...], peername)
        port = address[1] if len(address) >= 2 else None
        return self._peers.get(port) if isinstance(port, int) else None

    def register_peer(self, port: int, channel: Channel) -> None:
        self._peers[port] = channel

    def drop_peer(self, port: int) -> None:
        self._peers.pop(port, None)
