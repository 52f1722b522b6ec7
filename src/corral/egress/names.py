"""Host names as the egress compares them: one normal form, or refused.

Invariant: two spellings of one host (case, trailing dot, IDNA/punycode, IP literal forms) normalise to the same
string; anything that is not a host (userinfo, paths, numeric disguises of addresses) normalises to None.
"""

from __future__ import annotations

import ipaddress


def normalize_host(host: str) -> str | None:
    """Lower-case, IDNA-encoded, without trailing dot; IP literals in canonical form; None if not a host."""
    name = host.strip().rstrip(".").lower()
    if name.startswith("[") and name.endswith("]"):
        name = name[1:-1]
    try:
        return str(ipaddress.ip_address(name))
    except ValueError:
        pass
    if not name or any(c in name for c in "@/\\:?#% \t\r\n") or len(name) > 253:
        return None
    try:
        encoded = name.encode("idna").decode("ascii")
    except UnicodeError:
        return None
    labels = encoded.split(".")
    if any(not label or len(label) > 63 or label.startswith("-") or label.endswith("-") for label in labels):
        return None
    if labels[-1].isdigit() or labels[-1].startswith("0x"):
        return None  # a numeric last label is an address in disguise ("0x7f.1", "127.000.000.001"), not a name
    return encoded
