"""The egress edge: the proxy every sandbox connection goes through, and server-side web tools.

Nothing below the composition roots imports this package; the sandbox side sees only
``corral.sandbox.network.EgressGateway``, which ``EgressClient`` implements.

This package's ``__init__`` imports nothing: a process that only starts the proxy or talks to it (``serve``,
``worker``) must not load mitmproxy, which only the proxy process itself runs. Import from the submodules.
"""
