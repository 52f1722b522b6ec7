"""Sandbox hosts: ``corral sandbox-host`` processes that run a machine's sandboxes for the workers of a deployment.

``directory`` (the hosts and the sessions' placements, in the database), ``wire`` (the typed requests and replies
between workers and hosts), ``server`` (the host's HTTP API over a ``SandboxProvider``) and ``remote`` (the
``SandboxProvider`` the workers use to reach them). A deployment on one machine needs none of it: ``corral serve``
runs its sandboxes itself.
"""
