"""The CA bundle a sandbox with credentials trusts: the system's CAs and the egress proxy's CA certificate.

Written next to the egress sockets (``/run/corral/<id>/``, reachable by the sandboxes' uids), mode 0644, and
bind-mounted read-only into the sandbox. Invariant: it holds certificates only; the proxy's CA key stays in its
confdir (``mitm``), which no sandbox mounts.
"""

from __future__ import annotations

import os
from pathlib import Path

SYSTEM_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
_BEGIN_KEY = b"PRIVATE KEY-----"


def write(ca_cert: Path, target: Path) -> str:
    """Write the bundle to ``target`` (atomically) and return its path; ``OSError`` if the CA is missing."""
    cert = ca_cert.read_bytes()
    if _BEGIN_KEY in cert:
        raise ValueError(f"{ca_cert} holds a private key: it is not a certificate")
    system = SYSTEM_BUNDLE.read_bytes() if SYSTEM_BUNDLE.is_file() else b""
    partial = target.with_name(f".{target.name}.{os.getpid()}")
    partial.write_bytes(system.rstrip(b"\n") + b"\n" + cert)
    partial.chmod(0o644)
    partial.replace(target)
    return str(target)
