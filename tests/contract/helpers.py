"""Small builders shared by the contract tests."""

from __future__ import annotations

from corral.session import NewEvent, NewSession, SessionRecord, SessionStore

WORKSPACE = "wrkspc_contract"


def new_session(title: str = "t", *, workspace: str = WORKSPACE, initial: list[NewEvent] | None = None) -> NewSession:
    return NewSession(workspace, "agent_contract", 1, "env_contract", {"title": title}, initial or [])


async def make_session(
    store: SessionStore, title: str = "t", *, workspace: str = WORKSPACE, initial: list[NewEvent] | None = None
) -> SessionRecord:
    record, _ = await store.create_session(new_session(title, workspace=workspace, initial=initial))
    return record


async def runnable_session(store: SessionStore) -> SessionRecord:
    """A session with a waiting user message: runnable, so workers may claim it."""
    return await make_session(store, initial=[NewEvent("user.message", {"content": [{"type": "text", "text": "go"}]})])


def message(n: int, tag: str = "t") -> NewEvent:
    return NewEvent("agent.message", {"content": [{"type": "text", "text": f"{tag} {n}"}], "tag": tag, "n": n})
