"""The OAuth 2.0 refresh-token grant (RFC 6749 §6) for ``mcp_oauth`` credentials, with httpx.

``refresh_grant`` posts ``grant_type=refresh_token`` (with ``scope`` and ``resource`` when configured) to the
credential's token endpoint, authenticating the client as configured: ``none`` (``client_id`` in the body),
``client_secret_basic`` (HTTP Basic, both parts form-encoded as §2.3.1 says) or ``client_secret_post``.

Invariants:

* It never raises for anything the endpoint or the network does: every outcome is a ``RefreshOutcome``
  (``succeeded``, ``failed`` with the captured response, ``connect_error``, ``no_refresh_token``).
* A captured response (``Capture``) is scrubbed before anyone sees it: every secret this exchange knows (the
  credential's and any the endpoint returned) and the values of token-like JSON fields are replaced, and the
  body is cut to ``BODY_MAX`` characters. New tokens live only in the outcome, whose ``repr`` hides them.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Literal
from urllib.parse import quote

import httpx

from corral._types import JSONObject, json_object
from corral.ids import now, rfc3339
from corral.secrets import REDACTED, redact
from corral.vault.credentials import Secrets

BODY_MAX = 4096
_TOKEN_FIELDS = re.compile(
    r'("(?:access_token|refresh_token|id_token|client_secret|token)"\s*:\s*)"(?:[^"\\]|\\.)*"', re.IGNORECASE
)

RefreshStatus = Literal["succeeded", "failed", "connect_error", "no_refresh_token"]


@dataclass(frozen=True)
class Capture:
    """An HTTP response as the API may show it (``BetaManagedAgentsRefreshHTTPResponse``): scrubbed, truncated."""

    status_code: int
    content_type: str
    body: str
    body_truncated: bool

    def wire(self) -> JSONObject:
        return {
            "status_code": self.status_code,
            "content_type": self.content_type,
            "body": self.body,
            "body_truncated": self.body_truncated,
        }


def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` without any of ``secrets`` and without the values of token-like JSON fields."""
    text = redact(text, secrets)
    return _TOKEN_FIELDS.sub(lambda match: f'{match.group(1)}"{REDACTED}"', text)


def capture(response: httpx.Response, body: bytes, secrets: Iterable[str]) -> Capture:
    text = scrub(body.decode("utf-8", "replace"), secrets)
    return Capture(
        status_code=response.status_code,
        content_type=response.headers.get("content-type", ""),
        body=text[:BODY_MAX],
        body_truncated=len(text) > BODY_MAX,
    )


@dataclass(frozen=True)
class RefreshOutcome:
    status: RefreshStatus
    http_response: Capture | None = None
    access_token: str | None = field(default=None, repr=False)
    refresh_token: str | None = field(default=None, repr=False)
    expires_at: str | None = None

    def wire(self) -> JSONObject:
        """``BetaManagedAgentsRefreshObject``: the response is shown only for ``failed``."""
        shown = self.http_response if self.status == "failed" and self.http_response is not None else None
        return {"status": self.status, "http_response": shown.wire() if shown is not None else None}


def _request(refresh: JSONObject, secrets: Secrets) -> tuple[dict[str, str], dict[str, str]]:
    """The form and headers of the grant."""
    form = {"grant_type": "refresh_token", "refresh_token": secrets["refresh_token"]}
    for optional in ("scope", "resource"):
        if refresh.get(optional):
            form[optional] = str(refresh[optional])
    headers = {"accept": "application/json"}
    client_id = str(refresh["client_id"])
    method = refresh["token_endpoint_auth"]["type"]
    if method == "client_secret_basic":
        pair = f"{quote(client_id, safe='')}:{quote(secrets.get('client_secret', ''), safe='')}"
        headers["authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
    else:
        form["client_id"] = client_id
        if method == "client_secret_post":
            form["client_secret"] = secrets.get("client_secret", "")
    return form, headers


def _granted(body: bytes) -> JSONObject | None:
    try:
        parsed = json_object(json.loads(body))
    except ValueError:
        return None
    if parsed is None or not isinstance(parsed.get("access_token"), str) or not parsed["access_token"]:
        return None
    return parsed


def _expiry(grant: JSONObject) -> str | None:
    seconds = grant.get("expires_in")
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds <= 0:
        return None
    return rfc3339(now() + timedelta(seconds=float(seconds)))


async def refresh_grant(http: httpx.AsyncClient, refresh: JSONObject | None, secrets: Secrets) -> RefreshOutcome:
    """Exchange the credential's refresh token for a new access token. Never raises."""
    if refresh is None or not secrets.get("refresh_token"):
        return RefreshOutcome("no_refresh_token")
    form, headers = _request(refresh, secrets)
    try:
        response = await http.post(str(refresh["token_endpoint"]), data=form, headers=headers)
    except (httpx.HTTPError, httpx.InvalidURL):
        return RefreshOutcome("connect_error")
    body = response.content
    grant = _granted(body) if response.is_success else None
    known = list(secrets.values())
    if grant is None:
        return RefreshOutcome("failed", capture(response, body, known))
    access = str(grant["access_token"])
    rotated = grant.get("refresh_token")
    new_refresh = rotated if isinstance(rotated, str) and rotated else None
    shown = capture(response, body, [*known, access, new_refresh or ""])
    return RefreshOutcome("succeeded", shown, access, new_refresh, _expiry(grant))
