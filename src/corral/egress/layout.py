"""Where the egress keeps its state under a data dir, and the names of the files it shares with its clients.

Light on purpose (no mitmproxy): the processes that start the proxy or talk to it import these names without
loading the proxy itself.
"""

from __future__ import annotations

from pathlib import Path

from corral.sandbox.runtime import egress_socket_dir

#: the proxy's CA certificate in its mitmproxy confdir (sandboxes trust it)
CA_CERT = "mitmproxy-ca-cert.pem"
#: the control socket in the socket dir (the supervisor's channel to the proxy)
CONTROL = "control.sock"


def state_paths(data_dir: Path) -> tuple[Path, Path]:
    """(socket dir, mitmproxy confdir) for a data dir."""
    return egress_socket_dir(data_dir), data_dir.resolve() / "egress" / "mitmproxy"
