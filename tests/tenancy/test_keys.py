"""API keys as a lifecycle, through the admin API and the CLI, against a live server on both engines.

What it proves: a key's secret is shown once (at creation) and never listed; a listing shows its prefix and last
use; a revoked key is refused (401) from its very next request — whichever process revoked it, so nothing caches
keys — and its open event streams end with an ``error`` frame the SDK raises; a key holds a bounded number of
streams; the operator routes refuse workspace keys (403) and serve admin keys.
"""

from __future__ import annotations

from typing import Any, cast

import anthropic
import httpx
import pytest

from tests.conformance.helpers import new_session
from tests.live import LiveServer
from tests.tenancy.conftest import MAX_STREAMS, corral, keyed


def made_key(admin_http: httpx.Client, workspace: str, *, admin: bool = False) -> dict[str, Any]:
    response = admin_http.post("/v1/corral/keys", json={"workspace": workspace, "name": "t", "admin": admin})
    assert response.status_code == 200, response.text
    return cast(dict[str, Any], response.json())


def listed(admin_http: httpx.Client, key_id: str) -> dict[str, Any]:
    response = admin_http.get("/v1/corral/keys")
    assert response.status_code == 200, response.text
    (found,) = [key for key in response.json()["data"] if key["id"] == key_id]
    return cast(dict[str, Any], found)


def test_a_key_is_created_listed_and_revoked_through_the_api(server: LiveServer, admin_http: httpx.Client) -> None:
    key = made_key(admin_http, "lifecycle-api")
    secret = key["secret"]
    assert secret.startswith("sk-corral-") and key["prefix"] == secret[: len(key["prefix"])]
    assert len(key["prefix"]) < len(secret) // 2 and key["last_used_at"] is None and not key["admin"]
    with keyed(server, secret) as client:
        client.beta.agents.list()
        listing = admin_http.get("/v1/corral/keys").text
        assert secret not in listing and secret[len(key["prefix"]) :] not in listing and "hash" not in listing
        entry = listed(admin_http, key["id"])
        assert entry["last_used_at"] is not None and entry["revoked_at"] is None and "secret" not in entry
        revoked = admin_http.post(f"/v1/corral/keys/{key['id']}/revoke")
        assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
        with pytest.raises(anthropic.AuthenticationError):
            client.beta.agents.list()
    again = admin_http.post(f"/v1/corral/keys/{key['id']}/revoke").json()
    assert again["revoked_at"] == revoked.json()["revoked_at"] == listed(admin_http, key["id"])["revoked_at"]
    missing = admin_http.post("/v1/corral/keys/apikey_nothing/revoke")
    assert missing.status_code == 404 and missing.json()["error"]["type"] == "not_found_error"


def stream_error(stream: Any) -> dict[str, Any]:
    """Read a stream to its end, which must be an ``error`` frame; its body."""
    with pytest.raises(anthropic.APIStatusError) as caught:
        for _ in stream:
            pass
    return cast(dict[str, Any], caught.value.body)


def test_revoking_a_key_through_the_api_ends_its_open_streams(server: LiveServer, admin_http: httpx.Client) -> None:
    key = made_key(admin_http, "streams-api")
    with keyed(server, key["secret"]) as client:
        session = new_session(client)
        with client.beta.sessions.events.stream(session.id) as stream:  # returns once the 200 is out
            assert admin_http.post(f"/v1/corral/keys/{key['id']}/revoke").status_code == 200
            body = stream_error(stream)
    assert body["error"]["type"] == "authentication_error" and "revoked" in body["error"]["message"]


def test_keys_are_listed_and_revoked_through_the_cli_which_ends_their_streams(
    server: LiveServer, admin_http: httpx.Client
) -> None:
    """``corral keys revoke`` runs in its own process: the next request is refused (no process caches keys) and
    the server's open stream sees the revocation at its next keep-alive."""
    key = made_key(admin_http, "lifecycle-cli")
    secret = key["secret"]
    with keyed(server, secret) as client:
        session = new_session(client)
        listing = corral(server, "keys", "list")
        assert listing.returncode == 0, listing.stderr
        (line,) = [row for row in listing.stdout.splitlines() if row.startswith(key["id"])]
        assert f"{key['prefix']}…" in line and "never used" not in line and "live" in line
        assert secret not in listing.stdout
        with client.beta.sessions.events.stream(session.id) as stream:
            revoked = corral(server, "keys", "revoke", key["id"])
            assert revoked.returncode == 0 and key["id"] in revoked.stdout
            with pytest.raises(anthropic.AuthenticationError):
                client.beta.agents.list()
            body = stream_error(stream)
    assert body["error"]["type"] == "authentication_error"


def test_a_key_holds_a_bounded_number_of_open_streams(server: LiveServer, admin_http: httpx.Client) -> None:
    first, second = made_key(admin_http, "streams-cap")["secret"], made_key(admin_http, "streams-cap")["secret"]
    with keyed(server, first) as client, keyed(server, second) as neighbour:
        session = new_session(client)
        streams = [client.beta.sessions.events.stream(session.id) for _ in range(MAX_STREAMS)]
        try:
            with pytest.raises(anthropic.RateLimitError) as caught:
                client.beta.sessions.events.stream(session.id)
            assert caught.value.response.headers["retry-after"] == "1"
            assert cast(dict[str, Any], caught.value.body)["error"]["type"] == "rate_limit_error"
            with neighbour.beta.sessions.events.stream(session.id):  # another key of the workspace: its own count
                pass
            with keyed(server, made_key(admin_http, "streams-cap", admin=True)["secret"]) as operator:
                admin_streams = [operator.beta.sessions.events.stream(session.id) for _ in range(MAX_STREAMS + 1)]
                for stream in admin_streams:  # admin keys are not limited
                    stream.close()
        finally:
            for stream in streams:
                stream.close()


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/v1/corral/stats"), ("GET", "/v1/corral/keys"), ("POST", "/v1/corral/keys")],
)
def test_operator_routes_need_an_admin_key(
    server: LiveServer, admin_http: httpx.Client, method: str, path: str
) -> None:
    workspace_key = made_key(admin_http, "operators")["secret"]
    admin_key = made_key(admin_http, "operators", admin=True)["secret"]
    body = {"workspace": "operators"} if method == "POST" else None
    with httpx.Client(base_url=server.base_url, trust_env=False) as http:
        refused = http.request(method, path, json=body, headers={"x-api-key": workspace_key})
        assert refused.status_code == 403 and refused.json()["error"]["type"] == "permission_error"
        served = http.request(method, path, json=body, headers={"x-api-key": admin_key})
        assert served.status_code == 200, served.text
    revoke = f"/v1/corral/keys/{made_key(admin_http, 'operators')['id']}/revoke"
    assert httpx.post(server.base_url + revoke, headers={"x-api-key": workspace_key}).status_code == 403
