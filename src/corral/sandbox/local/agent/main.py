"""The agent's entry point: read the configuration, lower the limits, say ready, then serve tool calls.

Protocol. Host → agent: frames of a 4-byte big-endian length and a ``marshal``-encoded value (the host is the
trusted side, and ``marshal`` is built in, so nothing needs importing before the agent can listen): first the
configuration, then requests ``{"id", "op", "label", "input", "timeout"}`` (``op``: one of the operations
in ``Agent.run``; ``label``: the tool name to prefix error messages with). Agent → host: one JSON object per line
(the host parses what comes out of a sandbox with ``json`` only): ``{"ready": true}`` once, then one
``{"id", "content", "is_error"}`` per request, in any order (each request runs in its own thread; bash calls
queue for the one shell).

Start-up is the cold-start critical path, so before the ready message the agent only reads its configuration
and lowers its resource limits; everything else (the JSON encoder, the tools, ``ctypes``, the forwarder, the
shell) is set up by a background thread that the tools wait for.

Invariants: the protocol uses private duplicates of fds 0 and 1, which are pointed at ``/dev/null`` so no
stray print or child process can write into the channel; the agent is not dumpable, so code in the sandbox
(same uid) cannot open its ``/proc/<pid>/fd`` or memory, and it is so before the shell (the only way user code
runs) starts; the resource limits set here are inherited by everything the tools start.
"""

from __future__ import annotations

import marshal
import os
import resource
import threading

TYPE_CHECKING = False  # typing costs milliseconds of start-up; annotations are strings anyway
if TYPE_CHECKING:
    from typing import Any, BinaryIO

    from .files import Roots
    from .results import Result, Value
    from .shell import Shell

_PR_SET_DUMPABLE = 4
_MAX_FRAME = 64 * 1024 * 1024


class Agent:
    def __init__(self, config: dict[str, Any], out: BinaryIO) -> None:
        self.config = config
        self.roots: Roots | None = None
        self.shell: Shell | None = None
        self.started = threading.Event()
        self.failure: str | None = None
        self._out = out
        self._write_lock = threading.Lock()
        #: ids of requests the host cancelled (never answered: the host no longer waits for them)
        self.cancelled: set[Value] = set()

    def start(self) -> None:
        """Everything but the listening: the tools, a non-dumpable agent, the egress forwarder, the shell."""
        try:
            import ctypes

            ctypes.CDLL(None).prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)
            import importlib

            for module in ("json", f"{__package__}.results"):  # for ``send`` and ``handle``, off the critical path
                importlib.import_module(module)
            from . import files

            config = self.config
            self.roots = files.Roots(
                config["workspace"],
                tuple(config.get("read_only", ())),
                config["file_cap"],
                tuple(config.get("writable", ())),
            )
            if proxy := config.get("proxy"):
                from . import forward

                forward.start(proxy["port"], proxy["socket"])
            from .shell import Shell

            self.shell = Shell(config["workspace"], config["env"], config["output_limit"])
        except Exception as exc:
            self.failure = f"{type(exc).__name__}: {exc}"
        self.started.set()

    def send(self, message: dict[str, Any]) -> None:
        import json

        line = json.dumps(message, ensure_ascii=False).encode() + b"\n"
        with self._write_lock:
            self._out.write(line)
            self._out.flush()

    def cancel(self, target: Value) -> None:
        """The host gave up on request ``target`` (the user interrupted it): do not start it, or stop it now.

        A running shell command is stopped with its whole process group, so nothing it started keeps running
        and the next command (``restart`` included) does not wait for it."""
        with self._write_lock:
            self.cancelled.add(target)
        if self.shell is not None and self.shell.running == target:
            self.shell.interrupt()

    def handle(self, request: dict[str, Any]) -> None:
        self.started.wait()
        from .results import ToolFailure, error

        if request.get("id") in self.cancelled:
            return

        op, label = str(request.get("op")), str(request.get("label"))
        tool_input: Value = request.get("input")
        try:
            if not isinstance(tool_input, dict):
                raise ToolFailure(f"{label}: input must be an object")
            result = self.run(request.get("id"), op, label, tool_input, float(request.get("timeout", 120)))
        except ToolFailure as exc:
            result = error(str(exc))
        except Exception as exc:  # a bug in a tool must not take the agent down
            result = error(f"{label}: internal error: {type(exc).__name__}: {exc}")
        self.send({"id": request.get("id"), **result})

    def run(self, request_id: Value, op: str, label: str, tool_input: dict[str, Any], timeout: float) -> Result:
        from . import files, search
        from .results import ToolFailure

        if self.roots is None or (op == "shell" and self.shell is None):
            raise ToolFailure(f"{label}: the sandbox agent could not start: {self.failure}")
        if op == "shell":
            return self.shell_command(request_id, tool_input, label, timeout)
        operations = {
            "read_file": files.read_file,
            "write_file": files.write_file,
            "edit_file": files.edit_file,
            "find_files": search.find_files,
            "search_files": search.search_files,
        }
        if op not in operations:
            raise ToolFailure(f"{label}: unknown operation {op!r}")
        return operations[op](tool_input, self.roots, label)

    def shell_command(self, request_id: Value, tool_input: dict[str, Any], label: str, timeout: float) -> Result:
        from .results import ToolFailure, text

        assert self.shell is not None
        command = tool_input.get("command")
        if tool_input.get("restart") is True:
            self.shell.restart()
            if not command:
                return text(f"{label} session restarted")
        if not isinstance(command, str) or not command.strip():
            raise ToolFailure(f"{label}: command is required")
        return self.shell.run(command, timeout, label, request_id, self.cancelled)


def _limit(limits: dict[str, int]) -> None:
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    nofile = min(limits["nofile"], resource.getrlimit(resource.RLIMIT_NOFILE)[1])
    resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits["fsize"], limits["fsize"]))


def _private_channel() -> tuple[BinaryIO, BinaryIO]:
    requests = os.fdopen(os.dup(0), "rb")
    replies = os.fdopen(os.dup(1), "wb")
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)
    os.close(null)
    return requests, replies


def read_frame(stream: BinaryIO) -> Any:
    """The next value from the host, or None at the end of the stream."""
    header = stream.read(4)
    if len(header) < 4:
        return None
    size = int.from_bytes(header, "big")
    if size > _MAX_FRAME:
        raise ValueError(f"a request of {size} bytes is too large")
    return marshal.loads(stream.read(size))


def main() -> None:
    requests, replies = _private_channel()
    config = read_frame(requests)
    _limit(config["rlimits"])
    agent = Agent(config, replies)
    replies.write(b'{"ready": true}\n')
    replies.flush()
    threading.Thread(target=agent.start, daemon=True).start()
    while (request := read_frame(requests)) is not None:
        if request.get("op") == "cancel":
            agent.cancel(request.get("target"))  # at once, on the reader: the call it stops holds the shell
            continue
        threading.Thread(target=agent.handle, args=(request,), daemon=True).start()
    agent.started.wait()
    if agent.shell is not None:
        agent.shell.close()
    os._exit(0)
