"""A second process on the same data directory: ``python -m tests.sandbox.sharing_child <data_dir>``.

It opens a local provider on ``data_dir`` (mounting the workspace filesystem if nobody has), runs one call in a
sandbox of its own, prints ``ready``, then waits for a line on stdin and closes the provider (as ``corral serve``
does when it stops) before exiting.
"""

from __future__ import annotations

import sys
from pathlib import Path

import anyio

from corral.config import Settings
from corral.sandbox import ProvisionSpec
from corral.sandbox.local import LocalOptions, LocalSandboxProvider


async def main(data_dir: Path) -> None:
    settings = Settings(data_dir=data_dir, egress_enabled=False)
    async with LocalSandboxProvider(settings, options=LocalOptions(disk_image_bytes=8 * 1024**3)) as provider:
        sandbox = await provider.provision(ProvisionSpec(session_id="sesn_sharing", environment_id="env_sharing"))
        await sandbox.execute("bash", {"command": "true"}, "toolu_sharing")
        print("ready", flush=True)
        await anyio.to_thread.run_sync(sys.stdin.readline)
        await sandbox.release()


if __name__ == "__main__":
    anyio.run(main, Path(sys.argv[1]))
