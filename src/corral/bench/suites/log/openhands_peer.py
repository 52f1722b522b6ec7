"""The openhands-sdk side of the ``log`` suite: a small server run by the peer's own Python (3.12+).

``python openhands_peer.py WORKDIR TOOL`` reads one JSON request per line on stdin and answers each with one
line ``@@peer {json}`` on stdout (other output, such as the SDK's logging, is ignored by the caller).

Invariants:

* Only openhands-sdk's public classes are driven: ``EventLog.append``, ``ConversationState.append_event``,
  ``ConversationState.create`` (reload), ``EventLog`` slicing; events are the SDK's own ``MessageEvent``,
  ``ActionEvent`` and ``ObservationEvent`` with a ``bash``-like action/observation declared the way SDK
  users declare tools (subclasses of ``Action`` / ``Observation``).
* The steps come from ``corral/bench/workload.py`` and contexts are rebuilt by ``corral/bench/context.py``,
  loaded from their files (standard library only), so both systems see the same data and the same rebuild.
* Timed regions contain the peer's call only; building event objects happens before the clock starts.
* This file imports nothing from corral and runs under Python 3.12 (openhands-sdk needs it).
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import shutil
import sys
import time
import uuid
from pathlib import Path
from types import ModuleType
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("OPENHANDS_SUPPRESS_BANNER", "1")

_HERE = Path(__file__).resolve().parent
_BENCH = _HERE.parent.parent
_FILL_BATCH = 1000


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"_corral_bench_{name}", _BENCH / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


workload = _load("workload")
context = _load("context")


class SDK:
    """The openhands-sdk names we use, imported at run time (this file is type-checked without the SDK)."""

    def __init__(self) -> None:
        import logging

        sdk = importlib.import_module("openhands.sdk")
        logging.getLogger("openhands").setLevel(logging.ERROR)
        state = importlib.import_module("openhands.sdk.conversation.state")
        store = importlib.import_module("openhands.sdk.conversation.event_store")
        const = importlib.import_module("openhands.sdk.conversation.persistence_const")
        events = importlib.import_module("openhands.sdk.event")
        tool = importlib.import_module("openhands.sdk.tool")
        pydantic = importlib.import_module("pydantic")
        self.sdk, self.events, self.io = sdk, events, importlib.import_module("openhands.sdk.io")
        self.ConversationState: Any = state.ConversationState
        self.EventLog: Any = store.EventLog
        self.EVENT_FILE_PATTERN: str = const.EVENT_FILE_PATTERN
        self.MessageToolCall: Any = importlib.import_module("openhands.sdk.llm").MessageToolCall
        self.BashAction: Any = pydantic.create_model("BashAction", __base__=tool.Action, command=(str, ...))
        self.BashObservation: Any = pydantic.create_model("BashObservation", __base__=tool.Observation)
        self.version = importlib.import_module("importlib.metadata").version("openhands-sdk")

    def agent(self) -> Any:
        llm = self.sdk.LLM(model="anthropic/claude-sonnet-4-5", api_key="unused", usage_id="bench")
        return self.sdk.Agent(llm=llm, tools=[])

    def workspace(self, path: Path) -> Any:
        return self.sdk.LocalWorkspace(working_dir=str(path))


class Builder:
    """Turns workload steps into the SDK's events (an observation points at its action's event id); ``tool`` is
    the name of the tool every call uses (corral's ``bash``, handed over by the caller)."""

    def __init__(self, sdk: SDK, tool: str):
        self.sdk, self.tool = sdk, tool
        self.action_ids: dict[str, str] = {}

    def text(self, text: str) -> Any:
        return self.sdk.sdk.TextContent(text=text)

    def event(self, step: Any, parent_id: str | None = None) -> Any:
        sdk, extra = self.sdk, ({"parent_id": parent_id} if parent_id else {})
        if step.kind in ("user", "assistant"):
            role = "user" if step.kind == "user" else "assistant"
            message = sdk.sdk.Message(role=role, content=[self.text(step.text)])
            source = "user" if step.kind == "user" else "agent"
            return sdk.events.MessageEvent(source=source, llm_message=message, **extra)
        if step.kind == "tool_use":
            call = sdk.MessageToolCall(
                id=step.id, name=self.tool, arguments=json.dumps({"command": step.text}), origin="completion"
            )
            action = sdk.events.ActionEvent(
                thought=[],
                action=sdk.BashAction(command=step.text),
                tool_name=self.tool,
                tool_call_id=step.id,
                tool_call=call,
                llm_response_id=str(uuid.uuid4()),
                **extra,
            )
            self.action_ids[step.id] = action.id
            return action
        observation = sdk.BashObservation.from_text(text=step.text, is_error=step.is_error)
        return sdk.events.ObservationEvent(
            observation=observation,
            action_id=self.action_ids.get(step.tool_use_id, str(uuid.uuid4())),
            tool_name=self.tool,
            tool_call_id=step.tool_use_id,
            **extra,
        )


def item(sdk: SDK, event: Any) -> tuple[str, dict[str, Any]]:
    """The peer's adapter for ``context.rebuild`` (mirror of ``context.corral_item``)."""
    events = sdk.events
    if isinstance(event, events.MessageEvent):
        kind = context.USER if event.source == "user" else context.ASSISTANT
        return kind, {"text": "".join(getattr(c, "text", "") for c in event.llm_message.content)}
    if isinstance(event, events.ActionEvent):
        arguments = json.loads(event.tool_call.arguments)
        return context.TOOL_USE, {"id": event.tool_call_id, "name": event.tool_name, "input": arguments}
    if isinstance(event, events.ObservationEvent):
        text = "".join(getattr(c, "text", "") for c in event.observation.content)
        fields = {"tool_use_id": event.tool_call_id, "text": text, "is_error": event.observation.is_error}
        return context.TOOL_RESULT, fields
    return "", {}


class Peer:
    """The request handlers (``op_<name>``); every timing is ``time.perf_counter`` seconds."""

    def __init__(self, workdir: Path, tool: str):
        self.sdk = SDK()
        self.workdir, self.tool = workdir, tool
        self.pending: dict[str, list[Any]] = {}
        self.appenders: dict[str, Any] = {}
        self.conversations: dict[str, tuple[uuid.UUID, Path]] = {}
        self.logs: dict[str, Any] = {}

    def op_hello(self, request: dict[str, Any]) -> dict[str, Any]:
        return {"openhands_sdk": self.sdk.version, "python": sys.version.split()[0]}

    def op_start_append(self, request: dict[str, Any]) -> dict[str, Any]:
        """Prepare ``n`` events from ``seed`` for ``system`` (``eventlog`` or ``state``) on a fresh store."""
        system, root = request["system"], self.workdir / f"append-{request['system']}"
        shutil.rmtree(root, ignore_errors=True)
        builder = Builder(self.sdk, self.tool)
        self.pending[system] = [builder.event(s) for s in workload.steps(request["seed"], request["n"])]
        if system == "eventlog":
            self.appenders[system] = self.sdk.EventLog(self.sdk.io.LocalFileStore(str(root)), dir_path="events").append
        else:
            state = self.sdk.ConversationState.create(
                id=uuid.uuid4(), agent=self.sdk.agent(), workspace=self.sdk.workspace(root), persistence_dir=str(root)
            )
            self.appenders[system] = state.append_event
        return {}

    def op_append(self, request: dict[str, Any]) -> dict[str, Any]:
        system, count = request["system"], request["count"]
        batch, self.pending[system] = self.pending[system][:count], self.pending[system][count:]
        append, clock = self.appenders[system], time.perf_counter
        samples: list[float] = []
        for event in batch:
            start = clock()
            append(event)
            samples.append(clock() - start)
        return {"samples": samples}

    def op_fill(self, request: dict[str, Any]) -> dict[str, Any]:
        """A conversation of ``n`` events, written in the SDK's own file format (see BENCHMARKS.md, method)."""
        name, root, started = request["name"], self.workdir / request["name"], time.perf_counter()
        shutil.rmtree(root, ignore_errors=True)
        conversation_id = uuid.uuid4()
        state = self.sdk.ConversationState.create(
            id=conversation_id, agent=self.sdk.agent(), workspace=self.sdk.workspace(root), persistence_dir=str(root)
        )
        events_dir = root / "events"
        events_dir.mkdir(parents=True, exist_ok=True)
        builder, parent = Builder(self.sdk, self.tool), None
        steps = workload.steps(request["seed"], request["n"], scale=request.get("scale", 1.0))
        for index, step in enumerate(steps):
            event = builder.event(step, parent)
            name_on_disk = self.sdk.EVENT_FILE_PATTERN.format(idx=index, event_id=event.id)
            (events_dir / name_on_disk).write_text(event.model_dump_json(exclude_none=True))
            parent = event.id
        state.leaf_event_id = parent
        self.conversations[name] = (conversation_id, root)
        self.logs.pop(name, None)
        return {"seconds": time.perf_counter() - started}

    def op_slice(self, request: dict[str, Any]) -> dict[str, Any]:
        name, count = request["name"], request["count"]
        log = self.logs.get(name)
        if log is None:
            root = self.conversations[name][1]
            log = self.logs[name] = self.sdk.EventLog(self.sdk.io.LocalFileStore(str(root)), dir_path="events")
        clock = time.perf_counter
        samples: list[float] = []
        for start in request["starts"]:
            began = clock()
            got = log[start : start + count]
            samples.append(clock() - began)
            assert len(got) == count, (len(got), count)
        return {"samples": samples}

    def op_recover(self, request: dict[str, Any]) -> dict[str, Any]:
        conversation_id, root = self.conversations[request["name"]]
        workspace, clock = self.sdk.workspace(root), time.perf_counter
        began = clock()
        state = self.sdk.ConversationState.create(
            id=conversation_id, agent=None, workspace=workspace, persistence_dir=str(root)
        )
        events = list(state.events)
        messages = context.rebuild(item(self.sdk, event) for event in events)
        seconds = clock() - began
        return {"seconds": seconds, "events": len(events), "digest": context.digest(messages)}


def main() -> None:
    peer = Peer(Path(sys.argv[1]), sys.argv[2])
    for line in sys.stdin:
        request = json.loads(line)
        try:
            reply = {"ok": True, **getattr(peer, "op_" + request["op"])(request)}
        except Exception as exc:  # report, keep serving: the caller decides what a failure means
            reply = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        sys.stdout.write("@@peer " + json.dumps(reply) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
