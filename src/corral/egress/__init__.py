"""The egress edge: the proxy every sandbox connection goes through, and server-side web tools.

Nothing below the composition roots imports this package; the sandbox side sees only
``corral.sandbox.network.EgressGateway``, which ``EgressClient`` implements.
"""

from corral.egress.addon import EgressRequest, RequestHook
from corral.egress.client import EgressClient
from corral.egress.policy import PACKAGE_MANAGER_HOSTS, AddressGuard, HostPolicy
from corral.egress.server import EgressServer, running_egress, state_paths

__all__ = [
    "PACKAGE_MANAGER_HOSTS",
    "AddressGuard",
    "EgressClient",
    "EgressRequest",
    "EgressServer",
    "HostPolicy",
    "RequestHook",
    "running_egress",
    "state_paths",
]
