"""Credential injection: what the proxy does with a session's ``environment_variable`` secrets.

Inside the sandbox the variable ``secret_name`` holds an opaque ``placeholder`` (``corral-placeholder-<random>``);
the proxy knows, per channel, which placeholder stands for which secret (``Injection``) and:

* replaces the placeholder by the secret only in requests to the credential's allowed hosts (``allows``: exact
  names or ``*.example.com``, the rule of ``policy``; None = any host the environment allows), and only in the
  enabled locations: header values and/or the body (a buffered body: up to the proxy's streaming threshold);
  never in the URL (path, query) nor in header names;
* redacts every secret of the channel out of the responses it relays (header values and body, streamed
  through ``StreamRedactor``, which keeps back a secret's length so none is split across chunks): a server
  that echoes the injected header never hands the secret to the sandbox, so no tool result can carry it.

Invariants: an ``Injection``'s ``repr`` never shows its value; a placeholder elsewhere passes literally;
nothing here logs or raises with a secret in its message.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import cast

from corral._types import JSONObject, json_list
from corral.egress.names import normalize_host

PREFIX = "corral-placeholder-"


def new_placeholder() -> str:
    """A fresh, unguessable placeholder (128 random bits)."""
    return PREFIX + secrets.token_hex(16)


def _matches(host: str, pattern: str) -> bool:
    if pattern.startswith("*."):
        return host.endswith(pattern[1:])  # every subdomain, never the apex (as ``policy``)
    return host == pattern


def normalized_patterns(hosts: Iterable[str]) -> tuple[str, ...]:
    found: list[str] = []
    for entry in hosts:
        wildcard = entry.startswith("*.")
        name = normalize_host(entry[2:] if wildcard else entry)
        if name is not None:
            found.append(("*." if wildcard else "") + name)
    return tuple(found)


@dataclass(frozen=True)
class Injection:
    placeholder: str
    value: str = field(repr=False)
    #: normalised allowed-host patterns; None: any host the environment allows
    hosts: tuple[str, ...] | None
    header: bool
    body: bool

    def allows(self, host: str) -> bool:
        return self.hosts is None or any(_matches(host, pattern) for pattern in self.hosts)

    def message(self) -> JSONObject:
        """Its form on the control channel (the one place a secret is serialised)."""
        hosts = None if self.hosts is None else list(self.hosts)
        return {
            "placeholder": self.placeholder,
            "value": self.value,
            "hosts": hosts,
            "header": self.header,
            "body": self.body,
        }

    @classmethod
    def parse(cls, raw: object) -> Injection:
        """From the control channel; ``ValueError`` (naming no value) when malformed."""
        if not isinstance(raw, dict):
            raise ValueError("an injection must be an object")
        item = cast(JSONObject, raw)
        placeholder, value, hosts = item.get("placeholder"), item.get("value"), item.get("hosts")
        if not isinstance(placeholder, str) or not placeholder.startswith(PREFIX) or len(placeholder) < 40:
            raise ValueError("an injection needs a corral placeholder")
        if not isinstance(value, str) or not value:
            raise ValueError("an injection needs a value")
        patterns = None if hosts is None else normalized_patterns(str(h) for h in json_list(hosts) or [])
        return cls(placeholder, value, patterns, item.get("header") is True, item.get("body") is True)


def parse_all(raw: object) -> tuple[Injection, ...]:
    if raw is None:
        return ()
    items = json_list(raw)
    if items is None:
        raise ValueError("injections must be a list")
    return tuple(Injection.parse(item) for item in items)


def for_host(injections: Sequence[Injection], host: str) -> tuple[Injection, ...]:
    return tuple(i for i in injections if i.allows(host))


def substitute(text: bytes, injections: Iterable[Injection]) -> bytes:
    for injection in injections:
        text = text.replace(injection.placeholder.encode(), injection.value.encode())
    return text


def mask(value: bytes) -> bytes:
    """What a secret becomes in a response: as many ``*`` as it has bytes (lengths stay true for streaming)."""
    return b"*" * len(value)


class StreamRedactor:
    """Redacts ``values`` from a body relayed chunk by chunk (mitmproxy calls it with ``b""`` at the end)."""

    def __init__(self, values: Sequence[bytes]) -> None:
        self.values = [v for v in values if v]
        self._keep = max((len(v) for v in self.values), default=1) - 1
        self._pending = b""

    def redact(self, data: bytes) -> bytes:
        for value in self.values:
            data = data.replace(value, mask(value))
        return data

    def __call__(self, chunk: bytes) -> bytes:
        data = self.redact(self._pending + chunk)
        if not chunk or self._keep == 0:
            self._pending = b""
            return data
        self._pending = data[-self._keep :]
        return data[: -self._keep]
