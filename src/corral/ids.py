"""Object ids: ``<prefix><24 base62 chars>``, like the hosted API's, and RFC 3339 timestamps.

Ids are random (142 bits), so they are not guessable; ordering never relies on them.
"""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime

_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_BODY = 24

PREFIXES = {
    "agent": "agent_",
    "environment": "env_",
    "session": "sesn_",
    "event": "sevt_",
    "resource": "sesrsc_",
    "request": "req_",
    "page": "page_",
    "workspace": "wrkspc_",
    "api_key": "apikey_",
    "vault": "vlt_",
    "credential": "vcrd_",
    "file": "file_",
    "memory_store": "memstore_",
    "memory": "mem_",
    "memory_version": "memver_",
    "skill": "skill_",
    "skill_version": "skillver_",
    "deployment": "depl_",
    "deployment_run": "drun_",
    "webhook_endpoint": "whep_",
    "webhook_event": "event_",
    "work": "work_",
    "environment_key": "envkey_",
    "outcome": "outc_",
    "thread": "sthr_",
}

_ID_BODY = re.compile(r"^[0-9A-Za-z]{1,64}$")


def new_id(kind: str) -> str:
    """A fresh id for an object of ``kind`` (a key of ``PREFIXES``)."""
    number = int.from_bytes(secrets.token_bytes(18))  # 144 random bits; 62**24 > 2**142
    chars: list[str] = []
    for _ in range(_BODY):
        number, digit = divmod(number, 62)
        chars.append(_ALPHABET[digit])
    return PREFIXES[kind] + "".join(chars)


def is_id(kind: str, value: str) -> bool:
    """True when ``value`` is shaped like an id of ``kind`` (right prefix, base62 body)."""
    prefix = PREFIXES[kind]
    return value.startswith(prefix) and bool(_ID_BODY.match(value[len(prefix) :]))


def now() -> datetime:
    return datetime.now(UTC)


def rfc3339(moment: datetime) -> str:
    """``2026-04-07T04:27:43.197123Z``: UTC, ``Z`` suffix, microseconds."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_rfc3339(value: str) -> datetime:
    """Parse an RFC 3339 / ISO 8601 timestamp; naive values are taken as UTC. Raises ValueError."""
    moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
