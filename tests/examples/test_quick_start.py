"""The README's Quick start, run exactly as written: its shell block, then its Python block, in one shell.

It runs in network, PID and mount namespaces of its own (``unshare``), so its fixed ports (8080, 9000) meet no
other server of the machine, and every process it starts ends with the namespace. The only differences from a
person's shell: ``CORRAL_DATA_DIR`` points at a temporary directory (the repository's ``.corral`` stays as it
is) and the environment is scrubbed of the test process's ``CORRAL_*`` / ``ANTHROPIC_*`` settings.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.live import scrubbed_env

ROOT = Path(__file__).parent.parent.parent


def quick_start_blocks() -> tuple[str, str]:
    """The shell and Python code blocks of the README's "### A first agent"."""
    text = (ROOT / "README.md").read_text().split("### A first agent\n", 1)[1].split("\n## ", 1)[0]
    (shell,) = re.findall(r"```bash\n(.*?)```", text, flags=re.DOTALL)
    (python,) = re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)
    return shell, python


@pytest.mark.timeout(360)  # setup, the model server and the server start in turn: minutes on a loaded machine
def test_the_quick_start_reaches_a_working_agent(tmp_path: Path) -> None:
    shell, python = quick_start_blocks()
    (tmp_path / "first_agent.py").write_text(python)
    driver = "\n".join(
        ["set -e", "ip link set lo up", f"cd {ROOT}", shell, f".venv/bin/python {tmp_path / 'first_agent.py'}"]
    )
    done = subprocess.run(
        ["unshare", "--net", "--pid", "--fork", "--mount", "--mount-proc", "--kill-child", "bash", "-c", driver],
        env=scrubbed_env({"CORRAL_DATA_DIR": str(tmp_path / "data")}),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert "[bash] {'command': 'echo Hello from $(uname -s)'}" in lines
    assert "Hello from Linux" in lines
    assert lines[-1] == "The sandbox answered; I am a scripted model, so this is all I say."
