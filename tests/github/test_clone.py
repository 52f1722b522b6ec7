"""A session's ``github_repository`` in a real sandbox: cloned at the requested branch or commit through the real
egress proxy, which adds the token for that repository only; ``git fetch`` and ``git push`` work from inside; the
token is nowhere in the sandbox."""

from __future__ import annotations

from dataclasses import replace

import pytest

from corral.testing.git import basic, git
from tests.github.conftest import HOST, REPOSITORY, Session, World, resource

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(180)]


def _sweep(token: str) -> str:
    """A shell command printing every place in the sandbox that holds ``token`` or its Authorization form; its
    pattern is assembled at run time, so that no command line holds it."""
    lines: list[str] = []
    for secret in (token, basic(token).removeprefix("Basic ")):
        head, tail = secret[:6], secret[6:]
        lines.append(
            f'P={head}; {{ env; cat /proc/self/environ; }} | grep -c "${{P}}{tail}";'
            f' grep -rIl "${{P}}{tail}" /workspace /home /tmp /etc /run 2>/dev/null; true'
        )
    return "\n".join(lines)


async def test_a_repository_is_cloned_at_its_default_branch_and_fetch_and_push_work(world: World) -> None:
    repositories, server = world.repositories, world.repositories.server
    session = Session(world, [resource(server.clone_url(REPOSITORY))])
    head = await session.ok("git -C /workspace/widgets rev-parse HEAD")
    assert head.strip() == repositories.head and session.notices() == []
    assert "branch.main.remote=origin" in await session.ok("git -C /workspace/widgets config --list --local")

    # the agent commits and pushes; the commit lands in the bare repository
    await session.ok("cd /workspace/widgets && echo more >> README.md && git commit -qam 'agent work'")
    pushed = await session.ok("cd /workspace/widgets && git push -q origin HEAD:agent-work && git rev-parse HEAD")
    bare = server.root / f"{REPOSITORY}.git"
    assert await git("rev-parse", "agent-work", cwd=bare) == pushed.strip()
    assert await git("log", "-1", "--format=%an <%ae>", "agent-work", cwd=bare) == "corral agent <agent@corral.invalid>"
    assert "agent-work" in await session.ok("cd /workspace/widgets && git fetch -q origin && git branch -r")

    # the token is nowhere in the sandbox: not its environment, not the clone's config, not the workspace
    swept = await session.ok(_sweep(repositories.token))
    assert swept.split() == ["0", "0"], swept
    config = await session.ok("cat /workspace/widgets/.git/config; git -C /workspace/widgets remote -v")
    assert repositories.token not in config and server.clone_url(REPOSITORY) in config

    # the server saw the token on every request of this session, all of them for this repository
    seen = [r for r in server.requests if r.authorization is not None]
    assert seen and all(r.path.startswith(f"/{REPOSITORY}/") for r in seen)
    assert {r.authorization for r in seen} == {basic(repositories.token)}


async def test_the_token_goes_to_that_repository_path_only(world: World) -> None:
    server = world.repositories.server
    session = Session(world, [resource(server.clone_url(REPOSITORY))])
    via = f"--noproxy '' -x http://127.0.0.1:3128 --path-as-is http://{HOST}:{server.port}"
    curl = f"curl -s -o /dev/null -w '%{{http_code}}\\n' {via}"
    others = [
        "/acme/other/info/refs",
        "/acme/widgets-other/info/refs",
        "/acme/widgets/../secret/info/refs",
        "/acme/widgets/%2e%2e/secret/info/refs",
        "/acme/widgets%2f..%2fsecret/info/refs",
    ]
    await session.ok("test -d /workspace/widgets/.git")  # provisioned and cloned
    before = len(server.requests)
    codes = await session.ok("\n".join(f"{curl}{path}" for path in [*others, "/acme/widgets.git/info/refs"]))
    assert codes.split() == ["401"] * len(others) + ["200"], codes
    assert [r.authorization is not None for r in server.requests[before:]] == [False] * len(others) + [True]
    explicit = await session.ok(f"{curl}/acme/widgets/info/refs -H 'Authorization: Bearer mine'")
    assert explicit.strip() == "401"  # what the sandbox sent is never overwritten
    assert server.requests[-1].authorization == "Bearer mine"


async def test_a_repository_is_cloned_at_a_branch(world: World) -> None:
    server = world.repositories.server
    url = server.clone_url(REPOSITORY) + ".git"
    session = Session(world, [resource(url, {"type": "branch", "name": "feature"}, mount_path="/workspace/src/w")])
    out = await session.ok("cd /workspace/src/w && git rev-parse HEAD && git rev-parse --abbrev-ref HEAD")
    assert out.split() == [world.repositories.feature, "feature"]
    assert session.notices() == []


async def test_a_repository_is_cloned_at_a_commit_and_never_again(world: World) -> None:
    server = world.repositories.server
    session = Session(
        world, [resource(server.clone_url(REPOSITORY), {"type": "commit", "sha": world.repositories.first})]
    )
    out = await session.ok("cd /workspace/widgets && git rev-parse HEAD && git status --porcelain -b | head -1")
    assert out.split()[0] == world.repositories.first and "no branch" in out
    await session.ok("touch /workspace/widgets/mine")
    await session.hands.release()  # the next sandbox finds the clone in the kept workspace and leaves it be
    assert "mine" in await session.ok("ls /workspace/widgets")
    assert session.notices() == []


async def test_a_rotated_token_is_used_by_the_next_sandbox_and_at_once_when_refreshed(world: World) -> None:
    repositories, server = world.repositories, world.repositories.server
    session = Session(world, [resource(server.clone_url(REPOSITORY))])
    await session.ok("test -d /workspace/widgets/.git")
    fetch = "cd /workspace/widgets && git fetch -q origin"
    try:
        for rotated in (f"ghs_next_sandbox{repositories.token[16:]}", f"ghs_refreshed{repositories.token[13:]}"):
            server.token = rotated
            stale, _ = await session.run(fetch)  # the channel still has the token it was opened with
            assert not stale
            tokens = world.tokens.by_session[session.id]
            world.tokens.by_session[session.id] = [replace(t, token=rotated) for t in tokens]
            if rotated.startswith("ghs_next_sandbox"):
                await session.hands.release()  # a fresh sandbox's channel is opened with the session's tokens
            else:
                await world.client.refresh(session.id)  # or the open channel is given them again
            await session.ok(fetch)
            assert server.requests[-1].authorization == basic(rotated)
        world.tokens.by_session[session.id] = []  # the repository is removed: its token is withdrawn at once
        await world.client.refresh(session.id)
        assert not (await session.run(fetch))[0] and server.requests[-1].authorization is None
    finally:
        server.token = repositories.token
