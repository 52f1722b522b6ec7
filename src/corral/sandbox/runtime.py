"""Where sandbox files live on the host, shared by the sandbox provider and the egress proxy.

Persistent state sits under ``<data_dir>/sandbox`` (mode 0700: workspace image, tool journal, uid counter).
Sandboxes are started by ``bwrap`` running as an unprivileged uid, which must be able to *reach* what it
bind-mounts; a data dir can sit below a directory such as ``/root`` that only root may traverse, so the
mounted views of that state live in a per-data-dir runtime directory ``/run/corral/<id>`` (mode 0711: reachable,
not listable), with ``egress/`` holding the egress proxy's per-sandbox sockets.

Invariant: the same data dir always maps to the same runtime directory, for every process.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

RUN_BASE = Path("/run/corral")


def state_dir(data_dir: Path) -> Path:
    return data_dir.resolve() / "sandbox"


def runtime_dir(data_dir: Path) -> Path:
    key = hashlib.sha256(str(data_dir.resolve()).encode()).hexdigest()[:16]
    return RUN_BASE / key


def egress_socket_dir(data_dir: Path) -> Path:
    return runtime_dir(data_dir) / "egress"
