"""``corral chat AGENT``: a conversation with an agent in the terminal.

Each line read is a message; the turn's events are shown as they stream (tool calls as they start, their results,
the reply), a tool call waiting for a confirmation is asked about inline (``y`` allows it), a custom tool's result is
asked for inline. End with Ctrl-D. The stream follows the session across server restarts (``corral.cli.follow``), so
a turn in progress is seen to its end.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from corral._types import JSONObject, json_list
from corral.cli.client import Url, connect
from corral.cli.render import TOOL_CALLS, Renderer, call_summary, member

if TYPE_CHECKING:
    import anthropic


def chat(
    agent: Annotated[str, typer.Argument(help="The agent's id.")],
    environment: Annotated[str | None, typer.Option(help="An environment's id (default: a new one).")] = None,
    session: Annotated[str | None, typer.Option(help="Go on with this session instead of starting one.")] = None,
    url: Url = "",
) -> None:
    """Talk with an agent: a line is a message, tool calls show as they run, confirmations are asked inline."""
    renderer = Renderer()
    with connect(url, max_retries=6) as client:
        session_id = session or start(client, agent, environment)
        renderer.note(f"session {session_id} (Ctrl-D ends)")
        Conversation(client, session_id, renderer).run()


def start(client: anthropic.Anthropic, agent: str, environment: str | None) -> str:
    if environment is None:
        made = client.beta.environments.create(
            name="corral chat",
            config={"type": "cloud", "networking": {"type": "unrestricted"}},
        )
        environment = made.id
    return client.beta.sessions.create(agent=agent, environment_id=environment).id


def read_line(prompt: str) -> str | None:
    """A line from the person (None at end of input); the prompt is shown only to a person at a terminal."""
    if sys.stdin.isatty():
        try:
            return input(prompt)
        except EOFError:
            return None
    line = sys.stdin.readline()
    return line.rstrip("\n") if line else None


class Conversation:
    def __init__(self, client: anthropic.Anthropic, session_id: str, renderer: Renderer) -> None:
        self.client = client
        self.session_id = session_id
        self.renderer = renderer
        self.calls: dict[str, JSONObject] = {}

    def run(self) -> None:
        while (text := read_line("you> ")) is not None:
            if text.strip():
                self.turn(text)

    def turn(self, text: str) -> None:
        from corral.cli.follow import Follower, send, user_message

        after = send(self.client, self.session_id, [user_message(text)])
        follower = Follower(self.client, self.session_id, after, lambda: self.renderer.note("reconnecting..."))
        for event in follower.events():
            self.renderer.show(event)
            kind = event.get("type")
            if kind in TOOL_CALLS:
                self.calls[str(event["id"])] = event
            elif kind == "session.status_terminated":
                return
            elif kind == "session.status_idle":
                reason = member(event, "stop_reason")
                if reason.get("type") != "requires_action":
                    return
                self.answer([str(i) for i in json_list(reason.get("event_ids")) or []])

    def answer(self, event_ids: list[str]) -> None:
        """Ask the person about each call the session waits for, then send the answers."""
        answers: list[JSONObject] = []
        for event_id in event_ids:
            call = self.calls.get(event_id)
            if call is None:
                continue
            if call["type"] == "agent.custom_tool_use":
                result = ask(f"result of {call_summary(call)}:") or ""
                content = [{"type": "text", "text": result}]
                answers.append({"type": "user.custom_tool_result", "custom_tool_use_id": event_id, "content": content})
            elif (ask(f"allow {call_summary(call)}? [y/N]") or "").strip().lower() in ("y", "yes"):
                answers.append({"type": "user.tool_confirmation", "tool_use_id": event_id, "result": "allow"})
            else:
                denied = {"result": "deny", "deny_message": "denied in corral chat"}
                answers.append({"type": "user.tool_confirmation", "tool_use_id": event_id, **denied})
        if answers:
            from corral.cli.follow import send

            send(self.client, self.session_id, answers)


def ask(question: str) -> str | None:
    typer.echo(f"? {question}")
    return read_line("> ")
