"""Repository tokens: what the proxy adds to a sandbox's git requests for a session's ``github_repository``.

A ``RepositoryToken`` is one repository of a session: its scheme, host and port, its path (``/owner/name``) and
its token. The proxy adds ``Authorization: Basic base64("x-access-token:" + token)`` (what GitHub takes for git
over HTTPS) to a request of that session's sandbox only when all of these hold (``applies``):

* it goes to the repository's host and port, over the repository's scheme (a token for an ``https`` URL never
  leaves in clear over ``http``);
* its path is the repository's (``/owner/name``, ``/owner/name.git``, or under either), compared after
  percent-decoding; a path with a ``.`` or ``..`` segment, a backslash or an encoded slash never gets one (it
  could name another repository once the server normalises it);
* it carries no ``Authorization`` of its own: the proxy never overwrites what the sandbox sent (another of the
  session's credentials, or a deliberate anonymous request, passes as it is).

The token never reaches the sandbox: it is not in its environment, nor in ``.git/config``, nor a placeholder;
responses relayed to the sandbox have it masked, in clear and in its ``Authorization`` form (``secrets``).

Invariants: a ``RepositoryToken``'s ``repr`` never shows the token; nothing here logs or raises with one.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import cast
from urllib.parse import unquote, urlsplit

from corral._types import JSONObject, json_list
from corral.egress.names import normalize_host

_PORTS = {"http": 80, "https": 443}


def repository_path(path: str) -> str | None:
    """``/owner/name`` of a repository URL's path (``.git`` and trailing slashes dropped); None if malformed."""
    name = unquote(path).strip("/").removesuffix(".git").strip("/")
    parts = name.split("/")
    if not name or any(part in ("", ".", "..") or "\\" in part for part in parts):
        return None
    return "/" + name


def _safe(path: str) -> str | None:
    """A request path, decoded, if no server could read it as another one (no dot segments, no encoded ``/``)."""
    if "%2f" in path.lower() or "%5c" in path.lower():
        return None
    decoded = unquote(path.split("?", 1)[0])
    if "\\" in decoded or any(part in (".", "..") for part in decoded.split("/")):
        return None
    return decoded


@dataclass(frozen=True)
class RepositoryToken:
    """One ``github_repository`` of a session, with its token."""

    resource_id: str
    scheme: str
    host: str
    port: int
    path: str
    token: str = field(repr=False)

    @classmethod
    def for_url(cls, resource_id: str, url: str, token: str) -> RepositoryToken | None:
        """From a repository URL (``http``/``https``, no user info); None when it is none the proxy can serve."""
        try:
            parts = urlsplit(url)
            port = parts.port or _PORTS.get(parts.scheme)
        except ValueError:
            return None
        host = normalize_host(parts.hostname or "")
        path = repository_path(parts.path)
        if parts.scheme not in _PORTS or port is None or host is None or path is None or parts.username or not token:
            return None
        return cls(resource_id, parts.scheme, host, port, path, token)

    @property
    def authorization(self) -> str:
        return "Basic " + base64.b64encode(f"x-access-token:{self.token}".encode()).decode()

    @property
    def secrets(self) -> tuple[str, ...]:
        """What must never reach the sandbox: the token, and the header value that carries it."""
        return (self.token, self.authorization.removeprefix("Basic "))

    def applies(self, scheme: str, host: str, port: int, path: str) -> bool:
        if (scheme, host, port) != (self.scheme, self.host, self.port):
            return False
        decoded = _safe(path)
        if decoded is None:
            return False
        return any(decoded == base or decoded.startswith(base + "/") for base in (self.path, self.path + ".git"))

    def message(self) -> JSONObject:
        """Its form on the control channel (the one place a token is serialised)."""
        return {
            "resource_id": self.resource_id,
            "scheme": self.scheme,
            "host": self.host,
            "port": self.port,
            "path": self.path,
            "token": self.token,
        }

    @classmethod
    def parse(cls, raw: object) -> RepositoryToken:
        """From the control channel; ``ValueError`` (naming no token) when malformed."""
        if not isinstance(raw, dict):
            raise ValueError("a repository token must be an object")
        item = cast(JSONObject, raw)
        scheme, host, port, path = item.get("scheme"), item.get("host"), item.get("port"), item.get("path")
        token, resource_id = item.get("token"), item.get("resource_id")
        if scheme not in _PORTS or not isinstance(host, str) or normalize_host(host) != host:
            raise ValueError("a repository token needs a scheme and a normalised host")
        if not isinstance(port, int) or not 0 < port < 65536 or not isinstance(path, str):
            raise ValueError("a repository token needs a port and a path")
        if repository_path(path) != path or not isinstance(token, str) or not token:
            raise ValueError("a repository token needs a repository path and a token")
        return cls(str(resource_id), str(scheme), host, port, path, token)


def parse_all(raw: object) -> tuple[RepositoryToken, ...]:
    if raw is None:
        return ()
    items = json_list(raw)
    if items is None:
        raise ValueError("repositories must be a list")
    return tuple(RepositoryToken.parse(item) for item in items)


def for_request(
    tokens: tuple[RepositoryToken, ...], scheme: str, host: str, port: int, path: str
) -> RepositoryToken | None:
    """The token to add to this request (of the innermost repository whose path it is under), if any."""
    found = [t for t in tokens if t.applies(scheme, host, port, path)]
    return max(found, key=lambda t: len(t.path), default=None)


def on_host(tokens: tuple[RepositoryToken, ...], host: str) -> bool:
    """Some repository is on ``host`` over https (its TLS must be terminated for the token to be added)."""
    return any(t.host == host and t.scheme == "https" for t in tokens)
