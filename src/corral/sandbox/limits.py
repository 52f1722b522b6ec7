"""The limit on a workspace's live sandboxes (``CORRAL_MAX_SANDBOXES_PER_WORKSPACE``), checked where sandboxes are
provisioned: by ``LocalSandboxProvider`` and by a sandbox host beside its capacity.

Invariants:

* Counting is per process that provisions: a local provider counts the sandboxes it runs, a sandbox host those it
  handed out. Processes do not share a count, so a deployment of several workers (local provider) or sandbox hosts
  lets a workspace run up to the limit on each.
* A session that already has a live sandbox is never refused (it is given that sandbox); sandboxes of no workspace
  (``""``: warm pools, package builds) are not counted.
* Over the limit, provisioning raises ``WorkspaceSandboxesFull``, a ``SandboxError``: the tool call that needed
  the sandbox gets an error result the model reads, never a wait; a later call provisions again.
"""

from __future__ import annotations

from corral.errors import ErrorCode, SandboxError

SETTING = "CORRAL_MAX_SANDBOXES_PER_WORKSPACE"


class WorkspaceSandboxesFull(SandboxError):
    status = 429
    wire_type = "rate_limit_error"
    default_code = ErrorCode.QUOTA_EXCEEDED


def check(workspace_id: str, running: int, limit: int) -> None:
    """Refuse one more sandbox for ``workspace_id`` when it already runs ``running`` of at most ``limit`` (0: none)."""
    if not workspace_id or limit <= 0 or running < limit:
        return
    sandboxes = "sandbox" if running == 1 else "sandboxes"
    raise WorkspaceSandboxesFull(
        f"workspace {workspace_id} already runs {running} {sandboxes}, its limit ({SETTING}={limit}); try again"
        " when one of its sessions' sandboxes stops",
        details={"limit": SETTING},
    )
