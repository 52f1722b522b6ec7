"""``mcp_oauth_validate``: probe an ``mcp_oauth`` credential against its MCP server, refreshing it on a 401.

The verdict (``BetaManagedAgentsCredentialValidation.status``):

* ``valid``: the server answered ``initialize`` with the stored access token;
* ``invalid``: the server refused the token (401) and no refresh recovered it (no refresh token, or the token
  endpoint refused the grant);
* ``unknown``: the probe could not tell: the server or the token endpoint was unreachable or answered with
  something else than a 401, or a refresh succeeded (its new token is stored, but was not tested).

Invariants: ``mcp_probe`` is null exactly when the probe succeeded; ``refresh`` is null exactly when no refresh
was considered; every HTTP response shown is scrubbed of the credential's secrets.
"""

from __future__ import annotations

from corral._types import JSONObject
from corral.ids import now, rfc3339
from corral.vault.access import Access
from corral.vault.oauth import RefreshOutcome
from corral.vault.probe import METHOD, ProbeResult, probe
from corral.vault.records import CredentialRecord


def _verdict(result: ProbeResult, refreshed: RefreshOutcome | None) -> str:
    if result.status == "ok":
        return "valid"
    if result.status != "unauthorized" or refreshed is None:
        return "unknown"
    return "invalid" if refreshed.status in ("failed", "no_refresh_token") else "unknown"


async def validate(access: Access, record: CredentialRecord, secrets: dict[str, str]) -> JSONObject:
    """The validation of an active ``mcp_oauth`` credential whose secrets are ``secrets``."""
    token = secrets["access_token"]
    result = await probe(access.http, str(record.auth["mcp_server_url"]), token)
    refreshed: RefreshOutcome | None = None
    if result.status == "unauthorized":
        if record.auth.get("refresh") is None or not secrets.get("refresh_token"):
            refreshed = RefreshOutcome("no_refresh_token")
        else:
            refreshed = await access.refresh_now(record.id, token) or RefreshOutcome("connect_error")
    failing = None
    if result.status != "ok":
        shown = result.http_response.wire() if result.http_response is not None else None
        failing = {"method": METHOD, "http_response": shown}
    return {
        "type": "vault_credential_validation",
        "credential_id": record.id,
        "vault_id": record.vault_id,
        "status": _verdict(result, refreshed),
        "has_refresh_token": bool(secrets.get("refresh_token")),
        "validated_at": rfc3339(now()),
        "mcp_probe": failing,
        "refresh": refreshed.wire() if refreshed is not None else None,
    }
