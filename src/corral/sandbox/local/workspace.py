"""A sandbox's ``/workspace`` on the host, and who it belongs to.

A workspace is the directory ``<disk.workspaces>/<key>``, owned by one host uid. Its ``Lifetime`` says when
it goes away:

* ``SESSION``: the session's own (key: the session id); it outlives every sandbox of the session and is
  removed only when the session is forgotten;
* ``SANDBOX``: made for one sandbox that serves no session yet (a warm one, or one building a package layer);
  it is removed when that sandbox stops, unless a session claims it first, which makes it the session's.

Invariant: a workspace's lifetime is this field alone, never read from its key.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from corral.sandbox.journal import safe_name


class Lifetime(enum.Enum):
    SESSION = "session"
    SANDBOX = "sandbox"


@dataclass
class Workspace:
    key: str
    lifetime: Lifetime

    @classmethod
    def of_session(cls, session_id: str) -> Workspace:
        return cls(safe_name(session_id), Lifetime.SESSION)

    def claim(self, session_id: str) -> None:
        """Its directory was renamed to the session's workspace: from now on it outlives the sandbox."""
        self.key, self.lifetime = safe_name(session_id), Lifetime.SESSION
