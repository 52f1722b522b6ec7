"""The agent's entry point: read the configuration line, harden the process, then serve tool calls.

Protocol (one JSON object per line): the host writes the configuration, then requests
``{"id", "tool", "input", "timeout"}``; the agent answers ``{"ready": true}`` once, then one
``{"id", "content", "is_error"}`` per request, in any order (each request runs in its own thread; bash
calls queue for the one shell).

Invariants: the protocol uses private duplicates of fds 0 and 1, which are pointed at ``/dev/null`` so no
stray print or child process can write into the channel; the agent is not dumpable, so code in the sandbox
(same uid) cannot open its ``/proc/<pid>/fd`` or memory, and it is so before the shell (the only way user code
runs) starts; the resource limits set here are inherited by everything the tools start.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import threading

from . import files
from .results import ToolFailure, error, text

TYPE_CHECKING = False  # typing costs milliseconds of start-up; annotations are strings anyway
if TYPE_CHECKING:
    from typing import Any, BinaryIO

    from .results import Result
    from .shell import Shell

_PR_SET_DUMPABLE = 4
_FILE_TOOLS = {"read": files.read, "write": files.write, "edit": files.edit}
_SEARCH_TOOLS = ("glob", "grep")


class Agent:
    def __init__(self, config: dict[str, Any], out: BinaryIO) -> None:
        self.config = config
        self.roots = files.Roots(config["workspace"], tuple(config.get("read_only", ())), config["file_cap"])
        self.shell: Shell | None = None
        self.started = threading.Event()
        self.failure: str | None = None
        self._out = out
        self._write_lock = threading.Lock()

    def start(self) -> None:
        """What user code must never run without: a non-dumpable agent, the egress forwarder, then the shell.

        Runs after the ready message (it overlaps with the host's next steps); bash calls wait for it.
        """
        try:
            import ctypes  # imported here, after the ready message: every module costs start-up time

            ctypes.CDLL(None).prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)
            if proxy := self.config.get("proxy"):
                from . import forward

                forward.start(proxy["port"], proxy["socket"])
            from .shell import Shell

            self.shell = Shell(self.config["workspace"], self.config["env"], self.config["output_limit"])
        except Exception as exc:
            self.failure = f"{type(exc).__name__}: {exc}"
        self.started.set()

    def send(self, message: dict[str, Any]) -> None:
        line = json.dumps(message, ensure_ascii=False).encode() + b"\n"
        with self._write_lock:
            self._out.write(line)
            self._out.flush()

    def handle(self, request: dict[str, Any]) -> None:
        tool, tool_input = request.get("tool"), request.get("input")
        try:
            if not isinstance(tool_input, dict):
                raise ToolFailure(f"{tool}: input must be an object")
            result = self.run(str(tool), tool_input, float(request.get("timeout", 120)))
        except ToolFailure as exc:
            result = error(str(exc))
        except Exception as exc:  # a bug in a tool must not take the agent down
            result = error(f"{tool}: internal error: {type(exc).__name__}: {exc}")
        self.send({"id": request.get("id"), **result})

    def run(self, tool: str, tool_input: dict[str, Any], timeout: float) -> Result:
        if tool == "bash":
            return self.bash(tool_input, timeout)
        if tool in _FILE_TOOLS:
            return _FILE_TOOLS[tool](tool_input, self.roots)
        if tool in _SEARCH_TOOLS:
            from . import search

            return search.glob(tool_input, self.roots) if tool == "glob" else search.grep(tool_input, self.roots)
        raise ToolFailure(f"{tool}: unknown tool")

    def bash(self, tool_input: dict[str, Any], timeout: float) -> Result:
        self.started.wait()
        if self.shell is None:
            raise ToolFailure(f"bash: the sandbox agent could not start the shell: {self.failure}")
        command = tool_input.get("command")
        if tool_input.get("restart") is True:
            self.shell.restart()
            if not command:
                return text("bash session restarted")
        if not isinstance(command, str) or not command.strip():
            raise ToolFailure("bash: command is required")
        return self.shell.run(command, timeout)


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


def main() -> None:
    requests, replies = _private_channel()
    config = json.loads(requests.readline())
    _limit(config["rlimits"])
    agent = Agent(config, replies)
    agent.send({"ready": True})
    threading.Thread(target=agent.start, daemon=True).start()
    for line in requests:
        request = json.loads(line)
        threading.Thread(target=agent.handle, args=(request,), daemon=True).start()
    agent.started.wait()
    if agent.shell is not None:
        agent.shell.close()
    sys.stderr.flush()
    os._exit(0)
