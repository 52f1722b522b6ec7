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


FACTORIES: dict[str, Callable[[Objects], str]] = {
    "workspace": lambda objects: objects.workspace_id,
    "agent": new_agent,
    "environment": new_environment,
    "session": new_session,
}


def realise(objects: Objects, placeholders: Iterable[Placeholder]) -> dict[Placeholder, str]:
    """Every placeholder of a kind corral serves -> its real id (made now)."""
    mapping: dict[Placeholder, str] = {}
    for placeholder in sorted(placeholders):
        if (real := objects.real(placeholder)) is not None:
            mapping[placeholder] = real
    return mapping
