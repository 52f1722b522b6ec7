"""``ScriptedModelProcess``: the scripted model server as a child process (``python -m corral.testing``).

For tests whose processes get killed, and for benchmarks that keep the model server off the measured
process. The child is started with the current interpreter; ``requests()`` reads what it recorded over HTTP.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Self, cast

import httpx

from corral.testing.script import Script
from corral.testing.server import RecordedJSON


class ScriptedModelProcess:
    def __init__(self, script: Mapping[str, object], *, host: str = "127.0.0.1", port: int = 0):
        Script.from_json(script)  # fail here, not in the child, on a bad script
        self.script = script
        self.host = host
        self.port = port
        self.url = ""
        self.process: subprocess.Popen[str] | None = None
        self._dir = tempfile.TemporaryDirectory(prefix="scripted-model-")

    def start(self) -> None:
        path = Path(self._dir.name) / "script.json"
        path.write_text(json.dumps(self.script))
        command = [sys.executable, "-m", "corral.testing", "--script", str(path), "--host", self.host]
        command += ["--port", str(self.port)]
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        line = self.process.stdout.readline().strip()
        if not line.startswith("listening "):
            self.stop()
            raise RuntimeError(f"the scripted model server did not start: {line!r}")
        self.url = line.removeprefix("listening ")

    def requests(self) -> list[RecordedJSON]:
        response = httpx.get(self.url + "/_scripted/requests", timeout=10)
        response.raise_for_status()
        return cast(list[RecordedJSON], response.json())  # the child's answer: asdict of its RecordedRequests

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            if self.process.stdout is not None:
                self.process.stdout.close()
            self.process = None
        self._dir.cleanup()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
