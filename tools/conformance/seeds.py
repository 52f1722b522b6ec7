"""Real objects for the ids the SDK's tests make up: one fresh object per placeholder per test, made over HTTP
before the test runs, so a test that archives or deletes its object never disturbs another.

Invariants:

* ``FACTORIES`` is the table that grows as corral serves more resources: one entry per kind, a function that
  makes a fresh object of that kind through the public API and returns its id. A kind without a factory keeps
  its made-up id (its route does not exist yet, so the test reports the method as missing).
* A session gets an agent and an environment of its own, not the test's: a test may archive its agent. A kind
  that lives under another (a vault's credential, a session's resource) should use the test's own parent
  (``Objects.real`` of the test's placeholder of that kind), so that a path such as
  ``/v1/vaults/{vault_id}/credentials/{credential_id}`` names two objects that belong together.
* A factory that fails raises ``SeedError``: the test errors in set-up and is reported as such, never passed.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, cast

import httpx2

from tools.conformance.placeholders import Placeholder

MODEL = "claude-sonnet-4-6"


class SeedError(RuntimeError):
    pass


def unique(name: str) -> str:
    """``name`` made unique, for the fixed names the tests reuse (environment names are unique in a workspace)."""
    return f"{name}-{secrets.token_hex(4)}"


@dataclass
class Objects:
    """The real objects of one test: placeholder -> real id, made on demand."""

    http: httpx2.Client
    workspace_id: str
    wanted: frozenset[Placeholder]
    made: dict[Placeholder, str] = field(default_factory=lambda: dict[Placeholder, str]())

    def post(self, path: str, body: dict[str, Any]) -> str:
        response = self.http.post(path, json=body)
        if response.status_code != 200:
            raise SeedError(f"POST {path} -> {response.status_code}: {response.text[:300]}")
        return str(cast(dict[str, Any], response.json())["id"])

    def real(self, placeholder: Placeholder) -> str | None:
        """The real id for ``placeholder``, made now if needed; None for a kind corral does not serve yet."""
        if placeholder in self.made:
            return self.made[placeholder]
        factory = FACTORIES.get(placeholder.kind)
        if factory is None:
            return None
        self.made[placeholder] = factory(self)
        return self.made[placeholder]


def new_agent(objects: Objects) -> str:
    return objects.post("/v1/agents", {"name": unique("conformance-agent"), "model": MODEL})


def new_environment(objects: Objects) -> str:
    return objects.post("/v1/environments", {"name": unique("conformance-env"), "config": {"type": "cloud"}})


def new_session(objects: Objects) -> str:
    # Its own agent and environment: the test's agent may be archived by the same test.
    return objects.post("/v1/sessions", {"agent": new_agent(objects), "environment_id": new_environment(objects)})


def new_vault(objects: Objects) -> str:
    return objects.post("/v1/vaults", {"display_name": unique("conformance-vault")})


# An mcp_oauth credential whose refresh authenticates with a client secret: the tests' updates send that variant.
# Its MCP server and token endpoint are the loopback discard port, so mcp_oauth_validate probes nothing at all.
CREDENTIAL_AUTH: dict[str, Any] = {
    "type": "mcp_oauth",
    "mcp_server_url": "http://127.0.0.1:9/mcp",
    "access_token": "conformance-access-token",
    "expires_at": "2099-01-01T00:00:00Z",
    "refresh": {
        "client_id": "conformance",
        "refresh_token": "conformance-refresh-token",
        "token_endpoint": "http://127.0.0.1:9/token",
        "token_endpoint_auth": {"type": "client_secret_basic", "client_secret": "conformance-client-secret"},
    },
}


def new_credential(objects: Objects) -> str:
    """A credential in the test's own vault (the one its path names), or in a vault of its own."""
    vault = next((placeholder for placeholder in sorted(objects.wanted) if placeholder.kind == "vault"), None)
    vault_id = objects.real(vault) if vault is not None else None
    return objects.post(f"/v1/vaults/{vault_id or new_vault(objects)}/credentials", {"auth": CREDENTIAL_AUTH})


def new_file(objects: Objects) -> str:
    """A small uploaded file (multipart, as ``client.beta.files.upload`` sends it)."""
    response = objects.http.post("/v1/files", files={"file": ("conformance.txt", b"conformance\n", "text/plain")})
    if response.status_code != 200:
        raise SeedError(f"POST /v1/files -> {response.status_code}: {response.text[:300]}")
    return str(cast(dict[str, Any], response.json())["id"])


def new_memory_store(objects: Objects) -> str:
    return objects.post("/v1/memory_stores", {"name": unique("conformance-memory")})


def own_memory_store(objects: Objects) -> str:
    """The test's own memory store (the one its path names), or a store of its own."""
    store = next((placeholder for placeholder in sorted(objects.wanted) if placeholder.kind == "memory_store"), None)
    store_id = objects.real(store) if store is not None else None
    return store_id or new_memory_store(objects)


def new_memory_in(objects: Objects) -> dict[str, Any]:
    """A fresh memory at a path of its own in the test's store (the whole memory, for its version id)."""
    path = f"/conformance/{secrets.token_hex(4)}.md"
    response = objects.http.post(
        f"/v1/memory_stores/{own_memory_store(objects)}/memories", json={"path": path, "content": "x"}
    )
    if response.status_code != 200:
        raise SeedError(f"POST …/memories -> {response.status_code}: {response.text[:300]}")
    return cast(dict[str, Any], response.json())


def new_memory_version(objects: Objects) -> str:
    """The version that created a fresh memory of the test's store."""
    return str(new_memory_in(objects)["memory_version_id"])


def new_resource(objects: Objects) -> str:
    """A ``github_repository`` resource (the one kind every resource method serves, token rotation included) in the
    test's own session (the one its path names), or in a session of its own. Nothing clones it: the session never
    runs, and its URL is the loopback discard port."""
    session = next((placeholder for placeholder in sorted(objects.wanted) if placeholder.kind == "session"), None)
    session_id = (objects.real(session) if session is not None else None) or new_session(objects)
    url = f"http://127.0.0.1:9/conformance/{secrets.token_hex(4)}.git"
    return objects.post(f"/v1/sessions/{session_id}/resources", {"type": "github_repository", "url": url})


def primary_thread(objects: Objects) -> str:
    """The primary thread of the test's own session (the one its path names), or of a session of its own: every
    session has one, and making a child thread would need a coordinator's turn."""
    session = next((placeholder for placeholder in sorted(objects.wanted) if placeholder.kind == "session"), None)
    session_id = (objects.real(session) if session is not None else None) or new_session(objects)
    response = objects.http.get(f"/v1/sessions/{session_id}/threads")
    if response.status_code != 200:
        raise SeedError(f"GET …/threads -> {response.status_code}: {response.text[:300]}")
    threads = cast(list[dict[str, Any]], response.json()["data"])
    return str(next(thread["id"] for thread in threads if thread["parent_thread_id"] is None))


def new_skill(objects: Objects) -> str:
    """A custom skill of one version (multipart ``files[]``, as ``client.beta.skills.create`` sends it)."""
    return str(_upload(objects, "/v1/skills", unique("conformance"))["id"])


def new_skill_version(objects: Objects) -> str:
    """A new version of the test's own skill (the one its path names), or of a skill of its own."""
    skill = next((placeholder for placeholder in sorted(objects.wanted) if placeholder.kind == "skill"), None)
    skill_id = (objects.real(skill) if skill is not None else None) or new_skill(objects)
    name = objects.http.get(f"/v1/skills/{skill_id}/versions/latest").json()["name"]
    return str(_upload(objects, f"/v1/skills/{skill_id}/versions", name, " Again.")["id"])


def _upload(objects: Objects, path: str, name: str, extra: str = "") -> dict[str, Any]:
    """POST ``path`` with the files of a skill called ``name`` (multipart ``files[]``, as the SDK sends them)."""
    skill_md = f"---\nname: {name}\ndescription: A conformance seed.{extra}\n---\n".encode()
    response = objects.http.post(path, files=[("files[]", (f"{name}/SKILL.md", skill_md, "text/markdown"))])
    if response.status_code != 200:
        raise SeedError(f"POST {path} -> {response.status_code}: {response.text[:300]}")
    return cast(dict[str, Any], response.json())


FACTORIES: dict[str, Callable[[Objects], str]] = {
    "workspace": lambda objects: objects.workspace_id,
    "agent": new_agent,
    "environment": new_environment,
    "session": new_session,
    "vault": new_vault,
    "credential": new_credential,
    "file": new_file,
    "memory_store": new_memory_store,
    "memory": lambda objects: str(new_memory_in(objects)["id"]),
    "memory_version": new_memory_version,
    "skill": new_skill,
    "skill_version": new_skill_version,
    "resource": new_resource,
    "thread": primary_thread,
}


def realise(objects: Objects, placeholders: Iterable[Placeholder]) -> dict[Placeholder, str]:
    """Every placeholder of a kind corral serves -> its real id (made now)."""
    mapping: dict[Placeholder, str] = {}
    for placeholder in sorted(placeholders):
        if (real := objects.real(placeholder)) is not None:
            mapping[placeholder] = real
    return mapping
