"""``corral agents|environments|sessions list|show|create``, ``corral sessions send`` and ``corral sessions tail``:
the API through the official SDK, for people (tables, coloured events) and scripts (``--json``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from corral._types import JSONObject
from corral.cli.client import Json, Url, connect, print_item, print_items, print_json
from corral.cli.render import Renderer, member
from corral.vocab.tools import TOOLSET

if TYPE_CHECKING:
    from anthropic.types.beta.agent_create_params import Tool
    from anthropic.types.beta.beta_cloud_config_params import Networking

agents_app = typer.Typer(no_args_is_help=True, help="Agents: list, show, create.")
environments_app = typer.Typer(no_args_is_help=True, help="Environments: list, show, create.")
sessions_app = typer.Typer(no_args_is_help=True, help="Sessions: list, show, create, send, tail.")

Limit = Annotated[int, typer.Option(help="At most this many, newest first.")]


@agents_app.command("list")
def agents_list(url: Url = "", as_json: Json = False, limit: Limit = 20) -> None:
    """The workspace's agents."""
    with connect(url) as client:
        items = client.beta.agents.list(limit=limit).data
        print_items(items, ["id", "name", "model.id", "version", "created_at"], as_script=as_json)


@agents_app.command("show")
def agents_show(agent_id: str, url: Url = "", as_json: Json = False) -> None:
    """One agent (its latest version)."""
    with connect(url) as client:
        print_item(client.beta.agents.retrieve(agent_id), as_script=as_json)


@agents_app.command("create")
def agents_create(
    name: Annotated[str, typer.Option(help="The agent's name.")],
    model: Annotated[str, typer.Option(help="A model id: claude-…, openai:…, <provider>:….")] = "claude-sonnet-4-6",
    system: Annotated[str | None, typer.Option(help="The system prompt.")] = None,
    with_tools: Annotated[
        bool, typer.Option("--toolset/--no-toolset", help="Give it the built-in tools (bash, read, write …).")
    ] = True,
    ask: Annotated[bool, typer.Option("--ask", help="Every tool call waits for a confirmation.")] = False,
    url: Url = "",
    as_json: Json = False,
) -> None:
    """Create an agent; prints its id (or, with --json, the agent)."""
    toolset: Tool = {"type": TOOLSET}
    if ask:
        toolset = {"type": TOOLSET, "default_config": {"permission_policy": {"type": "always_ask"}}}
    with connect(url) as client:
        agent = client.beta.agents.create(
            name=name,
            model=model,
            system=system,
            tools=[toolset] if with_tools else [],
        )
        print_item(agent, as_script=True) if as_json else typer.echo(agent.id)


@environments_app.command("list")
def environments_list(url: Url = "", as_json: Json = False, limit: Limit = 20) -> None:
    """The workspace's environments."""
    with connect(url) as client:
        items = client.beta.environments.list(limit=limit).data
        print_items(items, ["id", "name", "config.networking.type", "created_at"], as_script=as_json)


@environments_app.command("show")
def environments_show(environment_id: str, url: Url = "", as_json: Json = False) -> None:
    """One environment."""
    with connect(url) as client:
        print_item(client.beta.environments.retrieve(environment_id), as_script=as_json)


@environments_app.command("create")
def environments_create(
    name: Annotated[str, typer.Option(help="The environment's name.")],
    limited: Annotated[bool, typer.Option("--limited", help="No network but package registries.")] = False,
    url: Url = "",
    as_json: Json = False,
) -> None:
    """Create a cloud environment; prints its id (or, with --json, the environment)."""
    networking: Networking = (
        {"type": "limited", "allow_package_managers": True} if limited else {"type": "unrestricted"}
    )
    with connect(url) as client:
        made = client.beta.environments.create(
            name=name,
            config={"type": "cloud", "networking": networking},
        )
        print_item(made, as_script=True) if as_json else typer.echo(made.id)


@sessions_app.command("list")
def sessions_list(
    url: Url = "",
    as_json: Json = False,
    limit: Limit = 20,
    agent: Annotated[str | None, typer.Option(help="Only this agent's sessions.")] = None,
) -> None:
    """The workspace's sessions."""
    with connect(url) as client:
        found = (
            client.beta.sessions.list(limit=limit, agent_id=agent) if agent else client.beta.sessions.list(limit=limit)
        )
        print_items(found.data, ["id", "status", "agent.id", "title", "created_at"], as_script=as_json)


@sessions_app.command("show")
def sessions_show(session_id: str, url: Url = "", as_json: Json = False) -> None:
    """One session."""
    with connect(url) as client:
        print_item(client.beta.sessions.retrieve(session_id), as_script=as_json)


@sessions_app.command("create")
def sessions_create(
    agent: Annotated[str, typer.Option(help="The agent's id.")],
    environment: Annotated[str, typer.Option(help="The environment's id.")],
    title: Annotated[str | None, typer.Option(help="A title.")] = None,
    url: Url = "",
    as_json: Json = False,
) -> None:
    """Start a session; prints its id (or, with --json, the session)."""
    with connect(url) as client:
        made = client.beta.sessions.create(agent=agent, environment_id=environment, title=title)
        print_item(made, as_script=True) if as_json else typer.echo(made.id)


@sessions_app.command("send")
def sessions_send(session_id: str, text: str, url: Url = "", as_json: Json = False) -> None:
    """Send a message; prints the id of the event recorded (``tail --after`` it to see what follows)."""
    from corral.cli.follow import send, user_message

    with connect(url) as client:
        sent = send(client, session_id, [user_message(text)])
        print_json({"id": sent}) if as_json else typer.echo(sent)


@sessions_app.command("tail")
def sessions_tail(
    session_id: str,
    url: Url = "",
    as_json: Json = False,
    until_idle: Annotated[
        bool, typer.Option("--until-idle", help="Stop once the session is idle after its last message.")
    ] = False,
) -> None:
    """The session's events so far, then live ones as they happen (Ctrl-C stops); --json prints one a line."""
    from corral.cli.follow import Follower, history

    renderer = Renderer(json_lines=as_json)
    with connect(url) as client:
        past = history(client, session_id)
        for event in past:
            renderer.show(event)
        if until_idle and settled(past):
            return
        follower = Follower(client, session_id, past[-1]["id"] if past else None, lambda: renderer.note("reconnecting"))
        seen = list(past)
        for event in follower.events():
            renderer.show(event)
            seen.append(event)
            if until_idle and settled(seen):
                return


def settled(events: list[JSONObject]) -> bool:
    """Whether the session went idle, waiting for nothing, after its last message."""
    last = events[-1] if events else {}
    return last.get("type") == "session.status_idle" and member(last, "stop_reason").get("type") != "requires_action"
