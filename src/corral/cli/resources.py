"""``corral agents|environments|sessions list|show|create``, ``corral sessions send`` and ``corral sessions tail``:
the API through the official SDK, for people (tables, coloured events) and scripts (``--json``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Annotated, Protocol

import typer

from corral._types import JSONObject
from corral.cli.client import Dumpable, Json, Url, connect, print_item, print_items, print_json
from corral.cli.render import Renderer, member
from corral.vocab.tools import TOOLSET

if TYPE_CHECKING:
    import anthropic
    from anthropic.types.beta.agent_create_params import Tool
    from anthropic.types.beta.beta_cloud_config_params import BetaCloudConfigParams, Networking

agents_app = typer.Typer(no_args_is_help=True, help="Agents: list, show, create.")
environments_app = typer.Typer(no_args_is_help=True, help="Environments: list, show, create.")
sessions_app = typer.Typer(no_args_is_help=True, help="Sessions: list, show, create, send, tail.")

Limit = Annotated[int, typer.Option(help="At most this many, newest first.")]


class Listed(Protocol):
    """A page of the SDK's lists (``data`` is the page's items)."""

    @property
    def data(self) -> Sequence[Dumpable]: ...


class Made(Dumpable, Protocol):
    @property
    def id(self) -> str: ...


def _list(url: str, as_json: bool, columns: list[str], fetch: Callable[[anthropic.Anthropic], Listed]) -> None:
    """The first page ``fetch`` lists: a table of ``columns``, or (``as_json``) a JSON array."""
    with connect(url) as client:
        print_items(fetch(client).data, columns, as_script=as_json)


def _show(url: str, as_json: bool, fetch: Callable[[anthropic.Anthropic], Dumpable]) -> None:
    with connect(url) as client:
        print_item(fetch(client), as_script=as_json)


def _create(url: str, as_json: bool, make: Callable[[anthropic.Anthropic], Made]) -> None:
    """Print what ``make`` created: its id, or (``as_json``) the whole of it."""
    with connect(url) as client:
        made = make(client)
        print_item(made, as_script=True) if as_json else typer.echo(made.id)


@agents_app.command("list")
def agents_list(url: Url = "", as_json: Json = False, limit: Limit = 20) -> None:
    """The workspace's agents."""
    _list(url, as_json, ["id", "name", "model.id", "version", "created_at"], lambda c: c.beta.agents.list(limit=limit))


@agents_app.command("show")
def agents_show(agent_id: str, url: Url = "", as_json: Json = False) -> None:
    """One agent (its latest version)."""
    _show(url, as_json, lambda client: client.beta.agents.retrieve(agent_id))


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
    tools = [toolset] if with_tools else []
    _create(url, as_json, lambda client: client.beta.agents.create(name=name, model=model, system=system, tools=tools))


@environments_app.command("list")
def environments_list(url: Url = "", as_json: Json = False, limit: Limit = 20) -> None:
    """The workspace's environments."""
    columns = ["id", "name", "config.networking.type", "created_at"]
    _list(url, as_json, columns, lambda client: client.beta.environments.list(limit=limit))


@environments_app.command("show")
def environments_show(environment_id: str, url: Url = "", as_json: Json = False) -> None:
    """One environment."""
    _show(url, as_json, lambda client: client.beta.environments.retrieve(environment_id))


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
    config: BetaCloudConfigParams = {"type": "cloud", "networking": networking}
    _create(url, as_json, lambda client: client.beta.environments.create(name=name, config=config))


@sessions_app.command("list")
def sessions_list(
    url: Url = "",
    as_json: Json = False,
    limit: Limit = 20,
    agent: Annotated[str | None, typer.Option(help="Only this agent's sessions.")] = None,
) -> None:
    """The workspace's sessions."""
    columns = ["id", "status", "agent.id", "title", "created_at"]
    _list(
        url,
        as_json,
        columns,
        lambda c: c.beta.sessions.list(limit=limit, agent_id=agent) if agent else c.beta.sessions.list(limit=limit),
    )


@sessions_app.command("show")
def sessions_show(session_id: str, url: Url = "", as_json: Json = False) -> None:
    """One session."""
    _show(url, as_json, lambda client: client.beta.sessions.retrieve(session_id))


@sessions_app.command("create")
def sessions_create(
    agent: Annotated[str, typer.Option(help="The agent's id.")],
    environment: Annotated[str, typer.Option(help="The environment's id.")],
    title: Annotated[str | None, typer.Option(help="A title.")] = None,
    url: Url = "",
    as_json: Json = False,
) -> None:
    """Start a session; prints its id (or, with --json, the session)."""
    _create(
        url, as_json, lambda client: client.beta.sessions.create(agent=agent, environment_id=environment, title=title)
    )


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
