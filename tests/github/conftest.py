"""Fixtures of the repository tests: a real git smart-HTTP server (``corral.testing.git``) on a loopback address
the sandbox's ``NO_PROXY`` does not name (``127.0.0.2``: its git goes through the egress proxy, as to GitHub), a
real egress proxy that exempts exactly that server from its safety blocklist, and a real local sandbox provider.

The sessions' repository tokens come from ``Tokens``, the ``SecretSource`` of these tests (the composition root's
reads the vault; ``tests/github/test_sdk_e2e.py`` goes through it).
"""

from __future__ import annotations

import itertools
import secrets
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

import pytest

from corral._types import JSONObject
from corral.config import Settings
from corral.egress.client import EgressClient
from corral.egress.credentials import SessionCredential
from corral.egress.layout import state_paths
from corral.egress.policy import AddressGuard
from corral.egress.repositories import RepositoryToken
from corral.egress.server import EgressServer, running_egress
from corral.resources.github import clone_step
from corral.sandbox.attach import Attachments, SessionAttachments
from corral.sandbox.base import ProvisionNotice
from corral.sandbox.hands import Hands
from corral.sandbox.local import LocalOptions, LocalSandboxProvider
from corral.sandbox.recipe import Environments
from corral.testing.git import GitServer, bare_repository, commit
from tests.sandbox.conftest import SMALL_IMAGE, text_of

HOST = "127.0.0.2"
REPOSITORY = "acme/widgets"
_ids = itertools.count(1)


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@dataclass
class Repositories:
    """The git server and what is in it: ``main`` (two commits), ``feature`` (one more), a forbidden repository."""

    server: GitServer
    token: str
    first: str
    head: str
    feature: str


@pytest.fixture(scope="module")
async def repositories(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Repositories]:
    root = tmp_path_factory.mktemp("git")
    bare = await bare_repository(root, REPOSITORY)
    first = await commit(bare, "main", {"README.md": "widgets\n"}, "first")
    head = await commit(bare, "main", {"src/widget.py": "WIDTH = 3\n"}, "second")
    feature = await commit(bare, "feature", {"FEATURE.md": "a feature\n"}, "feature")
    await commit(await bare_repository(root, "acme/secret"), "main", {"README.md": "secret\n"})
    token = f"ghs_{secrets.token_hex(16)}"
    async with GitServer(root, token=token, forbidden={"acme/secret"}, host=HOST) as server:
        yield Repositories(server, token, first, head, feature)


class Tokens:
    """The sessions' repository tokens, as the egress client asks for them: session id → tokens."""

    def __init__(self) -> None:
        self.by_session: dict[str, list[RepositoryToken]] = {}

    async def __call__(self, session_id: str) -> Sequence[SessionCredential]:
        return list(self.by_session.get(session_id, []))


@dataclass
class World:
    repositories: Repositories
    tokens: Tokens
    client: EgressClient
    provider: LocalSandboxProvider
    hands: list[Hands] = field(default_factory=lambda: list[Hands]())


@pytest.fixture(scope="module")
async def world(repositories: Repositories, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    data_dir = tmp_path_factory.mktemp("egress")
    exempt = frozenset({(HOST, repositories.server.port)})
    server = EgressServer(*state_paths(data_dir), guard=AddressGuard(exempt=exempt))
    tokens = Tokens()
    async with running_egress(server):
        client = EgressClient(server.control_path, secrets=tokens)
        options = LocalOptions(disk_image_bytes=SMALL_IMAGE)
        async with LocalSandboxProvider(Settings(data_dir=data_dir), client, options=options) as provider:
            world = World(repositories, tokens, client, provider)
            try:
                yield world
            finally:
                for hands in world.hands:
                    await hands.release()
        await client.aclose()


class Resources(SessionAttachments):
    """A session's ``github_repository`` wire objects as ``corral.resources.github`` turns them into set-up steps
    (what ``GithubAttachments`` does with the ones it reads from the session's record)."""

    def __init__(self, resources: list[JSONObject]) -> None:
        self.resources = resources

    async def attachments(self, workspace_id: str, session_id: str) -> Attachments:
        steps = [clone_step(resource) for resource in self.resources]
        return Attachments(setup=tuple(step for step in steps if step is not None))


def resource(url: str, checkout: JSONObject | None = None, **extra: object) -> JSONObject:
    return {"type": "github_repository", "id": f"sesrsc_{next(_ids):04d}", "url": url, "checkout": checkout, **extra}


async def _environment(workspace_id: str, environment_id: str) -> JSONObject:
    return {"type": "cloud", "networking": {"type": "unrestricted"}}


class Session:
    """A session with repositories: its hands (the harness's view of its sandbox) and a shell in it."""

    def __init__(self, world: World, resources: list[JSONObject], token: str | None = None) -> None:
        self.id = f"sesn_git{next(_ids):05d}"
        self.world = world
        self.resources = resources
        self.hands = Hands(self.id, world.provider, Environments(_environment), "lazy", Resources(resources))
        self.hands.bind("wrkspc_test", "env_test")
        world.hands.append(self.hands)
        secret = world.repositories.token if token is None else token
        found = [RepositoryToken.for_url(str(r["id"]), str(r["url"]), secret) for r in resources]
        world.tokens.by_session[self.id] = [t for t in found if t is not None]

    async def run(self, command: str) -> tuple[bool, str]:
        """(succeeded, output) of a bash call (the first one provisions the sandbox and clones)."""
        result = await self.hands.execute("bash", {"command": command}, f"toolu_git{next(_ids):06d}")
        return not result.is_error, text_of(result)

    async def ok(self, command: str) -> str:
        succeeded, output = await self.run(command)
        assert succeeded, output
        return output

    def notices(self) -> list[ProvisionNotice]:
        return self.hands.take_notices()
