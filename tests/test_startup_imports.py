"""What each kind of process loads when it starts: only what it runs. The SDKs are costly to import (about a second
of CPU for the model SDKs, half a second for the MCP SDK and for mitmproxy), and every ``corral`` process pays for
what it imports, on every start.

* ``corral serve`` / ``corral worker`` (the API and the harness): no mitmproxy (only the egress proxy process runs
  it) and no MCP SDK (``McpTools`` loads it in a thread when an agent's MCP server is first used).
* ``corral sandbox-host``: no model SDK, no MCP SDK, no mitmproxy (it runs sandboxes, never a turn).
* ``corral keys`` / ``migrate`` / ``webhooks`` (the composition root's small parts): none of them.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("anthropic", "openai", "mcp", "mitmproxy")


def loaded(*modules: str) -> list[str]:
    """The heavy packages a fresh interpreter has loaded after importing ``modules``."""
    script = "; ".join(
        [
            *(f"import {module}" for module in modules),
            "import sys, json",
            f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))",
        ]
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True)
    return json.loads(done.stdout)


@pytest.mark.parametrize(
    ("modules", "expected"),
    [
        (("corral.api.app", "corral.compose.services"), ["anthropic", "openai"]),
        (("corral.compose.hosts",), []),
        (("corral.compose.bootstrap", "corral.compose.webhooks", "corral.compose.environment_keys"), []),
    ],
    ids=["serve", "sandbox-host", "small-commands"],
)
def test_a_process_loads_only_the_sdks_it_runs(modules: tuple[str, ...], expected: list[str]) -> None:
    assert loaded(*modules) == expected
