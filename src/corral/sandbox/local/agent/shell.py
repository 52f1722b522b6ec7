"""The persistent bash of a session: ``cd`` and variables survive between calls.

Each call is written to bash's stdin as ``eval '<command>' </dev/null`` followed by a ``printf`` of ``$?`` to a
private status pipe, so the command's own output (stdout and stderr merged) and its exit code arrive on
separate channels. A pump thread reads both pipes for as long as the shell lives and routes output to the call
in progress (output written between calls is dropped), so background jobs never block on a full pipe.

Invariants: one command at a time; a call ends by its exit status, its timeout or its output exceeding the
hard cap; on a timeout or overflow the whole shell process group is killed and a fresh shell starts with the
next call (working directory and variables are reset, and the result says so).
"""

from __future__ import annotations

import os
import selectors
import shlex
import signal
import subprocess
import threading
from collections.abc import Container, Mapping

from .results import decode, error, text

TYPE_CHECKING = False  # typing costs milliseconds of start-up; annotations are strings anyway
if TYPE_CHECKING:
    from .results import Result

_RESTARTED = "the shell was restarted (working directory and variables are reset)"

#: past this many bytes a command is treated as runaway and stopped
HARD_OUTPUT_CAP = 32 * 1024 * 1024


class _Call:
    """One command in flight: the tail of its output, and how it ended."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.tail = bytearray()
        self.total = 0
        self.code: int | None = None
        self.overflow = False
        self.interrupted = False  # the host cancelled the call: its process group was killed
        self.ended = False  # the shell died mid-call
        self.done = threading.Event()

    def feed(self, data: bytes) -> None:
        self.total += len(data)
        self.tail += data
        if len(self.tail) > self.limit:
            del self.tail[: len(self.tail) - self.limit]
        if self.total > HARD_OUTPUT_CAP:
            self.overflow = True
            self.done.set()

    def output(self) -> str:
        body = decode(bytes(self.tail)).rstrip("\n")
        if self.total > len(self.tail):
            kib = self.limit // 1024
            body = f"[output truncated: showing the last {kib} KiB of {self.total} bytes]\n{body}"
        return body


class _Bash:
    """One bash process with its output and status pipes and the pump thread that reads them."""

    def __init__(self, cwd: str, env: Mapping[str, str]) -> None:
        status_r, status_w = os.pipe()
        self.status_fd_in_child = status_w
        self.proc = subprocess.Popen(
            ["/bin/bash", "--noprofile", "--norc"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            env=dict(env),
            pass_fds=(status_w,),
            start_new_session=True,
        )
        os.close(status_w)
        _prefer_for_oom_kill(self.proc.pid)
        self._status_r = status_r
        self._lock = threading.Lock()
        self.call: _Call | None = None
        threading.Thread(target=self._pump, daemon=True).start()

    def begin(self, call: _Call, command: str) -> None:
        with self._lock:
            self.call = call
        fd = self.status_fd_in_child
        script = f"eval {shlex.quote(command)} </dev/null {fd}>&-\nprintf '%d\\n' \"$?\" >&{fd}\n"
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(script.encode())
            self.proc.stdin.flush()
        except OSError:
            self._finish(ended=True)

    def kill(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except OSError:
            pass
        self.proc.wait()

    def _finish(self, *, code: int | None = None, ended: bool = False) -> None:
        with self._lock:
            call, self.call = self.call, None
        if call is not None:
            call.code, call.ended = code, ended
            call.done.set()

    def _feed(self, data: bytes) -> None:
        with self._lock:
            if self.call is not None:
                self.call.feed(data)

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        out = self.proc.stdout.fileno()
        os.set_blocking(out, False)
        sel = selectors.DefaultSelector()
        sel.register(out, selectors.EVENT_READ)
        sel.register(self._status_r, selectors.EVENT_READ)
        status = b""
        while sel.get_map():
            for key, _ in sel.select():
                data = _read(key.fd)
                if key.fd == out:
                    if data:
                        self._feed(data)
                    else:
                        sel.unregister(out)
                    continue
                if not data:
                    sel.unregister(self._status_r)
                    continue
                lines, status = _lines(status + data)
                for line in lines:
                    self._drain(out)
                    self._finish(code=int(line or b"-1"))
        os.close(self._status_r)
        self._finish(code=self.proc.wait(), ended=True)

    def _drain(self, fd: int) -> None:
        while data := _read(fd):
            self._feed(data)


def _lines(buffer: bytes) -> tuple[list[bytes], bytes]:
    """The complete lines in ``buffer``, and the rest after the last newline."""
    *complete, rest = buffer.split(b"\n")
    return complete, rest


def _read(fd: int) -> bytes:
    try:
        return os.read(fd, 65536)
    except BlockingIOError:
        return b""
    except OSError:
        return b""


def _prefer_for_oom_kill(pid: int) -> None:
    """Make the shell and what it starts the OOM killer's first choice, ahead of the agent."""
    try:
        with open(f"/proc/{pid}/oom_score_adj", "w") as f:
            f.write("500")
    except OSError:
        pass


class Shell:
    def __init__(self, cwd: str, env: Mapping[str, str], output_limit: int) -> None:
        self._cwd, self._env, self._limit = cwd, dict(env), output_limit
        self._lock = threading.Lock()
        self._bash: _Bash | None = _Bash(cwd, env)
        #: the request id of the command running now (None between commands)
        self.running: object = None

    def interrupt(self) -> None:
        """Stop the command running now with its shell's process group (without waiting for the lock that
        the running call holds); that call then returns at once and the next one starts a fresh shell."""
        bash = self._bash
        call = bash.call if bash is not None else None
        if bash is None or call is None:
            return
        call.interrupted = True
        bash.kill()

    def restart(self) -> None:
        with self._lock:
            self._stop()
            self._bash = _Bash(self._cwd, self._env)

    def close(self) -> None:
        with self._lock:
            self._stop()

    def run(self, command: str, timeout: float, label: str, request_id: object, cancelled: Container[object]) -> Result:
        with self._lock:
            self.running = request_id  # before the check: a cancel from now on sees it (``Agent.cancel``)
            try:
                if request_id in cancelled:  # cancelled while it waited for the shell
                    return error(f"{label}: interrupted before it started")
                if self._bash is None or self._bash.proc.poll() is not None:
                    self._bash = _Bash(self._cwd, self._env)
                call = _Call(self._limit)
                self._bash.begin(call, command)
                if request_id in cancelled:  # the cancel came while the command was being started
                    self.interrupt()
                finished = call.done.wait(timeout)
            finally:
                self.running = None
            if call.interrupted:
                self._stop()
                return error(f"{label}: interrupted; {_RESTARTED}")
            if not finished or call.overflow:
                self._stop()
                return _stopped(call, timeout, label, overflow=finished)
            if call.ended:
                self._bash = None
            return _outcome(call)

    def _stop(self) -> None:
        if self._bash is not None:
            self._bash.kill()
            self._bash = None


def _stopped(call: _Call, timeout: float, label: str, *, overflow: bool) -> Result:
    if overflow:
        why = f"{label}: output exceeded {HARD_OUTPUT_CAP // (1024 * 1024)} MiB; the command was stopped"
    else:
        why = f"{label}: command timed out after {round(timeout * 1000)} ms"
    note = _RESTARTED
    return error(f"{call.output()}\n{why}; {note}".lstrip("\n"))


def _outcome(call: _Call) -> Result:
    body = call.output()
    if call.ended:
        note = f"[the shell exited with code {call.code}; a fresh shell starts with the next call]"
        return text(f"{body}\n{note}".lstrip("\n"), is_error=call.code != 0)
    if call.code == 0:
        return text(body)
    return text(f"{body}\n[exit code {call.code}]".lstrip("\n"), is_error=True)
