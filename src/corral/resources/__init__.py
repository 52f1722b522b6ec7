"""A session's resources in its sandboxes: the real ``SessionAttachments`` (``corral.sandbox.attach``).

Each kind of resource is one ``SessionAttachments`` of its own (uploaded files, memory stores, skills, the
outputs directory, repositories); ``Combined`` asks each in turn and joins what they give. The composition root
builds the list and hands it to the harness ``Runtime``. Sources of directory mounts live under the sandbox
provider's ``mount_root`` (reachable by the sandboxes).
"""

from corral.resources.combined import Combined

__all__ = ["Combined"]
