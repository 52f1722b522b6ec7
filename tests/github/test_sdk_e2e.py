"""End to end through the official SDK: an agent pushes a commit to a repository whose token it never sees.

A live corral (API, workers, local sandboxes, the egress proxy) driven by a scripted model, and a git smart-HTTP
server that takes one token at a time (``corral.testing.git``, on ``127.0.0.2``: the sandboxes reach it through
the egress, which ``CORRAL_EGRESS_ALLOW_PRIVATE`` lets through). Two deployments: one ``corral serve`` that runs
the workers too (SQLite), and an API-only ``corral serve`` beside a separate ``corral worker`` (PostgreSQL), where
the token is rotated in one process and used in the other.

The session is created with a ``github_repository`` resource carrying the token; the agent commits and pushes from
``/workspace/widgets``; then the server changes the token it takes, the old one is refused, ``resources.update``
gives the session the new one and the agent pushes again from the same sandbox. The tokens (and the Basic form the
proxy sends) are in no event of the session, no API answer, no tool result, not in ``.git/config`` nor the
sandbox's environment. A repository that is missing or refuses the token is a ``session.error`` naming it, and the
session goes on.
"""

from __future__ import annotations

import secrets
import subprocess
import sys
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import anthropic
import anyio
import pytest

from corral.testing import ReplyJSON, ScriptedModelServer, reply, text, tool_use
from corral.testing.git import GitServer, bare_repository, basic, commit, git
from tests.conftest import database_url
from tests.live import LiveServer, live_server, scrubbed_env
from tests.sdk_server import sdk

pytestmark = pytest.mark.timeout(300)
HOST = "127.0.0.2"
REPOSITORY = "acme/widgets"
CLONE = "/workspace/widgets"
DEPLOYMENTS = ["embedded", "split"]


@dataclass
class Deployment:
    live: LiveServer
    model: ScriptedModelServer
    git: GitServer
    token: str

    @property
    def bare(self) -> Path:
        return self.git.root / f"{REPOSITORY}.git"


@contextmanager
def worker(env: dict[str, str], log: Path) -> Generator[None]:
    """A ``corral worker`` process (no API) on the live server's database and data directory."""
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "corral", "worker"], env=scrubbed_env(env), stdout=out, stderr=subprocess.STDOUT
        )
    try:
        yield
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def _repositories(root: Path) -> None:
    bare = await bare_repository(root, REPOSITORY)
    await commit(bare, "main", {"README.md": "widgets\n"}, "first")


@pytest.fixture(scope="module", params=DEPLOYMENTS)
def deployment(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    split = request.param == "split"
    tmp = tmp_path_factory.mktemp(f"github-e2e-{request.param}")
    anyio.run(_repositories, tmp / "git")
    token = f"ghs_{secrets.token_hex(16)}"
    db_url = anyio.run(database_url, "postgres" if split else "sqlite", tmp)
    with (
        GitServer(tmp / "git", token=token, host=HOST) as server,
        ScriptedModelServer({"replies": [reply(text("Nothing scripted."))]}) as model,
    ):
        env = {"ANTHROPIC_BASE_URL": model.url, "CORRAL_LEASE_TTL": "5", "CORRAL_EGRESS_ALLOW_PRIVATE": HOST}
        api_env = {**env, "CORRAL_WORKERS": "0"} if split else env
        with live_server(db_url, data_dir=tmp / "data", env=api_env) as live:
            if not split:
                yield Deployment(live, model, server, token)
                return
            shared = {**env, "CORRAL_DATABASE_URL": db_url, "CORRAL_DATA_DIR": str(live.data_dir)}
            with worker(shared, tmp / "worker.log"):
                yield Deployment(live, model, server, token)


def run_turn(
    client: anthropic.Anthropic, model: ScriptedModelServer, session_id: str, script: list[ReplyJSON]
) -> list[dict[str, Any]]:
    """The events of one turn of the session whose whole conversation the scripted model answers with ``script``
    (it picks a reply by the number of assistant messages so far)."""
    model.set_script({"replies": script})
    seen: list[dict[str, Any]] = []
    with client.beta.sessions.events.stream(session_id) as stream:
        client.beta.sessions.events.send(
            session_id, events=[{"type": "user.message", "content": [{"type": "text", "text": "Go on."}]}]
        )
        for event in stream:
            seen.append(event.model_dump())
            if event.type == "session.status_idle":
                break
    return seen


def results(events: list[dict[str, Any]]) -> list[tuple[str, bool]]:
    """(text, is_error) of each tool result of a turn."""
    found: list[tuple[str, bool]] = []
    for event in events:
        if event["type"] == "agent.tool_result":
            found.append(("".join(str(block.get("text", "")) for block in event["content"]), bool(event["is_error"])))
    return found


def bash(command: str) -> ReplyJSON:
    return reply(tool_use("bash", {"command": command}))


def secret_forms(*tokens: str) -> list[str]:
    """Each token, and the credentials part of the ``Authorization`` the proxy sends with it."""
    return [form for token in tokens for form in (token, basic(token).removeprefix("Basic "))]


def push(name: str) -> str:
    return (
        f"cd {CLONE} && echo {name} > {name}.txt && git add {name}.txt && git commit -qm {name}"
        " && git push -q origin HEAD:main 2>&1 && git rev-parse HEAD"
    )


INSPECT = f"cat {CLONE}/.git/config; git -C {CLONE} remote -v; env; tr '\\0' '\\n' < /proc/self/environ"


@dataclass
class Seen:
    """What the test saw: every API answer's body and every tool result's text."""

    answers: list[str] = field(default_factory=lambda: list[str]())
    outputs: list[str] = field(default_factory=lambda: list[str]())
    script: list[ReplyJSON] = field(default_factory=lambda: list[ReplyJSON]())

    def turn(
        self, client: anthropic.Anthropic, deployment: Deployment, session_id: str, *replies: ReplyJSON
    ) -> list[tuple[str, bool]]:
        """Run a turn in which the agent makes ``replies``' calls; the (text, is_error) of each tool result."""
        self.script += [*replies, reply(text("Done."))]
        found = results(run_turn(client, deployment.model, session_id, self.script))
        self.outputs += [out for out, _ in found]
        return found


def _pushed(deployment: Deployment, output: str) -> None:
    """The commit the agent printed is the head of ``main`` in the bare repository."""
    head = anyio.run(partial(git, "rev-parse", "main", cwd=deployment.bare))
    assert head == output.split()[-1], output


def _session(client: anthropic.Anthropic, deployment: Deployment, seen: Seen) -> str:
    agent = client.beta.agents.create(
        name="Pusher", model="claude-sonnet-4-6", tools=[{"type": "agent_toolset_20260401"}]
    )
    environment = client.beta.environments.create(name="git", config={"type": "cloud"})
    repository: Any = {
        "type": "github_repository",
        "url": deployment.git.clone_url(REPOSITORY),
        "authorization_token": deployment.token,
        "checkout": {"type": "branch", "name": "main"},
    }
    raw = client.beta.sessions.with_raw_response.create(
        agent=agent.id, environment_id=environment.id, resources=[repository]
    )
    seen.answers.append(raw.http_response.text)
    return raw.parse().id


def _rotate(client: anthropic.Anthropic, deployment: Deployment, session_id: str, token: str, seen: Seen) -> None:
    """The server takes ``token`` now: the session's is refused until ``resources.update`` gives it the new one."""
    deployment.git.token = token
    fetch = seen.turn(client, deployment, session_id, bash(f"git -C {CLONE} fetch -q origin 2>&1; echo fetched=$?"))
    assert "fetched=128" in fetch[0][0] and deployment.git.requests[-1].status == 401, fetch
    (resource,) = client.beta.sessions.resources.list(session_id).data
    assert resource.type == "github_repository"
    updated = client.beta.sessions.resources.with_raw_response.update(
        resource.id, session_id=session_id, authorization_token=token
    )
    seen.answers.append(updated.http_response.text)


def test_an_agent_pushes_to_a_repository_whose_token_it_never_sees(deployment: Deployment) -> None:
    server, first, rotated = deployment.git, deployment.token, f"ghs_{secrets.token_hex(16)}"
    seen = Seen()
    try:
        with sdk(deployment.live) as client:
            session_id = _session(client, deployment, seen)
            pushed = seen.turn(
                client, deployment, session_id, bash(f"echo {session_id} > /tmp/first; {push('one')}"), bash(INSPECT)
            )
            assert [failed for _, failed in pushed] == [False, False], pushed
            _pushed(deployment, pushed[0][0])
            assert '[remote "origin"]' in pushed[1][0] and server.clone_url(REPOSITORY) in pushed[1][0]

            _rotate(client, deployment, session_id, rotated, seen)
            again = seen.turn(client, deployment, session_id, bash(f"cat /tmp/first; {push('two')}"))
            assert [failed for _, failed in again] == [False], again
            assert again[0][0].split()[0] == session_id  # the same sandbox: the rotation reached its open channel
            _pushed(deployment, again[0][0])
            assert server.requests[-1].authorization == basic(rotated)

            (resource,) = client.beta.sessions.resources.list(session_id).data
            assert resource.type == "github_repository" and resource.url == server.clone_url(REPOSITORY)
            seen.answers.append(client.beta.sessions.with_raw_response.retrieve(session_id).http_response.text)
            seen.answers.append(client.beta.sessions.resources.with_raw_response.list(session_id).http_response.text)
            one = client.beta.sessions.resources.with_raw_response.retrieve(resource.id, session_id=session_id)
            seen.answers.append(one.http_response.text)
            events = [event.model_dump_json() for event in client.beta.sessions.events.list(session_id, limit=1000)]
    finally:
        server.token = first  # as the next test expects it

    assert sum('"agent.tool_result"' in event for event in events) == 4
    for form in secret_forms(first, rotated):
        assert not [where for where in [*seen.answers, *events, *seen.outputs] if form in where]


def test_a_missing_or_refused_repository_is_a_session_error_and_the_session_goes_on(deployment: Deployment) -> None:
    server = deployment.git
    missing, refused = server.clone_url("acme/missing"), server.clone_url(REPOSITORY)
    with sdk(deployment.live) as client:
        agent = client.beta.agents.create(
            name="Lost", model="claude-sonnet-4-6", tools=[{"type": "agent_toolset_20260401"}]
        )
        environment = client.beta.environments.create(name="git-failures", config={"type": "cloud"})
        resources: list[Any] = [
            {"type": "github_repository", "url": missing, "authorization_token": deployment.token},
            {"type": "github_repository", "url": refused, "authorization_token": "ghs_not_the_token"},
        ]
        session = client.beta.sessions.create(agent=agent.id, environment_id=environment.id, resources=resources)
        script = [bash("echo still here; ls -A /workspace"), bash("echo and here"), reply(text("Done."))]
        events = run_turn(client, deployment.model, session.id, script)
    errors = sorted((e["error"]["type"], e["error"]["repository_url"]) for e in events if e["type"] == "session.error")
    assert errors == [("repository_authentication_error", refused), ("repository_not_found_error", missing)]
    assert [e["error"]["retry_status"]["type"] for e in events if e["type"] == "session.error"] == ["retrying"] * 2
    assert results(events) == [("still here", False), ("and here", False)]
    assert events[-1]["type"] == "session.status_idle" and events[-1]["stop_reason"]["type"] == "end_turn"
