"""A worker that is killed mid-call: ``python -m tests.sandbox.crash_child <data_dir> <session_id>``.

It opens a local provider on ``data_dir``, writes ``kept.txt`` in the session's workspace, then starts a long
bash call (``toolu_crash``) that first writes ``begun``; the test kills this process with SIGKILL meanwhile.
"""

from __future__ import annotations

import sys
from pathlib import Path

import anyio

from corral.config import Settings
from corral.sandbox import ProvisionSpec
from corral.sandbox.local import LocalOptions, LocalSandboxProvider


async def main(data_dir: Path, session_id: str) -> None:
    settings = Settings(data_dir=data_dir, egress_enabled=False)
    async with LocalSandboxProvider(settings, options=LocalOptions(disk_image_bytes=8 * 1024**3)) as provider:
        sandbox = await provider.provision(ProvisionSpec(session_id=session_id, environment_id="env_crash"))
        await sandbox.execute("write", {"file_path": "kept.txt", "content": "before the crash"}, "toolu_write")
        command = "touch /workspace/begun; sleep 60; touch /workspace/ended"
        await sandbox.execute("bash", {"command": command}, "toolu_crash")


if __name__ == "__main__":
    anyio.run(main, Path(sys.argv[1]), sys.argv[2])
