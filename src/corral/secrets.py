"""Keeping known secret values out of text that leaves a trusted component (error messages, probe captures, tool
results). A leaf: it imports nothing from corral.

Invariant: every occurrence of every known secret is replaced by ``REDACTED``, the longest secrets first (so a
secret that contains another is replaced whole); values shorter than ``MIN_SECRET`` characters are never treated
as secrets (they would redact ordinary words, and no credential is that short).
"""

from __future__ import annotations

from collections.abc import Iterable

REDACTED = "[redacted]"
MIN_SECRET = 8


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every known secret replaced by ``REDACTED``."""
    for secret in sorted({s for s in secrets if len(s) >= MIN_SECRET}, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text
