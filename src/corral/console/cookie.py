"""The console's session cookie: the API key a person signed in with and their CSRF token, sealed.

Invariants:

* The cookie is Fernet (AES-128-CBC + HMAC-SHA256, from ``cryptography``) under a key derived by HKDF from the
  deployment's active vault master key, with a label of its own: every ``corral serve`` of a deployment opens
  the cookies of the others, nobody without the master key reads or forges one, and rotating the vault key
  signs everybody out.
* The cookie is ``HttpOnly``, ``SameSite=Strict`` and scoped to ``/console``; it expires after ``MAX_AGE``. The
  key inside is checked against the catalog on every request (``corral.console.auth``), so a revoked key stops
  working at once even though the cookie still opens.
* Every form the console serves carries the session's CSRF token; a POST whose token differs is refused. A
  visitor who has not signed in gets a cookie with a token and no key, so the login form is protected too.
"""

from __future__ import annotations

import base64
import json
import secrets
from dataclasses import dataclass

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from corral._types import json_object

COOKIE = "corral_console"
PATH = "/console"
MAX_AGE = 12 * 3600
_LABEL = b"corral console session cookie v1"


@dataclass(frozen=True)
class ConsoleSession:
    csrf: str
    key: str | None = None


def fresh(key: str | None = None) -> ConsoleSession:
    return ConsoleSession(secrets.token_urlsafe(24), key)


class CookieSealer:
    def __init__(self, master_key: bytes):
        derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_LABEL).derive(master_key)
        self._fernet = Fernet(base64.urlsafe_b64encode(derived))

    def seal(self, session: ConsoleSession) -> str:
        body = json.dumps({"csrf": session.csrf, "key": session.key}).encode()
        return self._fernet.encrypt(body).decode()

    def open(self, value: str | None) -> ConsoleSession | None:
        """The session a cookie holds; None when it is missing, altered, sealed elsewhere or too old."""
        if not value:
            return None
        try:
            raw = json_object(json.loads(self._fernet.decrypt(value.encode(), ttl=MAX_AGE)))
        except (InvalidToken, ValueError):
            return None
        csrf, key = (raw or {}).get("csrf"), (raw or {}).get("key")
        if not isinstance(csrf, str) or not (key is None or isinstance(key, str)):
            return None
        return ConsoleSession(csrf, key)
