"""Corral's side of credential injection: a session's secrets, turned into placeholders for its sandbox.

The composition root hands ``EgressClient`` a ``SecretSource``: ``session_id`` → the session's
``environment_variable`` credentials (``SessionSecret``: taken from the vaults of the session's own workspace,
never another's) and the tokens of its ``github_repository`` resources (``RepositoryToken``: sent to the proxy
as they are, never to the sandbox, which needs no placeholder for them). For each channel opened for a session,
``Placeholders`` gives every usable credential an opaque placeholder of its own (``injection.new_placeholder``):
the sandbox gets ``secret_name=placeholder``, the proxy gets ``{placeholder, secret, allowed hosts, locations}``
over its control channel with that channel's ``open``. A credential none of whose allowed hosts the
environment's networking lets through (``reachable``) is not injected: the channel carries a ``ProvisionNotice``
for it (``credential_host_unreachable``: a ``credential_host_unreachable_error`` naming its vault and credential
ids, which the harness reports on the session) and it is logged with those ids.

Invariants: a ``SessionSecret``'s ``repr`` never shows its value; a channel keeps its placeholders for its
life (a proxy restart re-sends the same ones with the secrets fetched afresh, so a rotated secret is used);
nothing here logs a value.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from corral.egress.injection import Injection, new_placeholder, normalized_patterns
from corral.egress.policy import PACKAGE_MANAGER_HOSTS, HostPolicy
from corral.egress.repositories import RepositoryToken
from corral.sandbox.base import ProvisionNotice

log = logging.getLogger("corral.egress")


@dataclass(frozen=True)
class SessionSecret:
    """One ``environment_variable`` credential of a session, with its secret."""

    vault_id: str
    credential_id: str
    secret_name: str
    value: str = field(repr=False)
    #: None: any host the environment allows
    allowed_hosts: tuple[str, ...] | None
    header: bool
    body: bool


SessionCredential = SessionSecret | RepositoryToken
SecretSource = Callable[[str], Awaitable[Sequence[SessionCredential]]]
"""``session_id`` → the session's ``environment_variable`` credentials and its repositories' tokens (none for an
unknown session)."""


def variables(found: Sequence[SessionCredential]) -> list[SessionSecret]:
    return [item for item in found if isinstance(item, SessionSecret)]


def repository_tokens(found: Sequence[SessionCredential]) -> tuple[RepositoryToken, ...]:
    return tuple(item for item in found if isinstance(item, RepositoryToken))


def _under(name: str, domain: str) -> bool:
    return name.endswith("." + domain)


def _meets(allowed: str, wanted: str) -> bool:
    """Some host matches both the environment's pattern ``allowed`` and the credential's ``wanted``."""
    a_wild, w_wild = allowed.startswith("*."), wanted.startswith("*.")
    a_name, w_name = allowed.removeprefix("*."), wanted.removeprefix("*.")
    if a_wild and w_wild:
        return a_name == w_name or _under(a_name, w_name) or _under(w_name, a_name)
    if a_wild:
        return _under(w_name, a_name)
    if w_wild:
        return _under(a_name, w_name)
    return a_name == w_name


def reachable(policy: HostPolicy, hosts: tuple[str, ...] | None) -> bool:
    """Both layers allow some host: the environment's networking and the credential's ``allowed_hosts``."""
    if policy.kind != "limited" or hosts is None:
        return True
    allowed = [*policy.allowed, *(PACKAGE_MANAGER_HOSTS if policy.package_managers else ())]
    return any(_meets(a, w) for a in allowed for w in normalized_patterns(hosts))


def credential_host_unreachable(secret: SessionSecret) -> ProvisionNotice:
    """What the session is told of a credential it cannot use (spec §7.3, §11.3): its ids, never its value."""
    message = (
        f"credential {secret.credential_id} of vault {secret.vault_id} ({secret.secret_name}) is not available in"
        " the sandbox: the environment's networking allows none of its allowed_hosts"
    )
    fields = (("vault_id", secret.vault_id), ("credential_id", secret.credential_id))
    return ProvisionNotice("credential_host_unreachable_error", message, fields)


class Placeholders:
    """The placeholders of one channel: credential id → (secret name, placeholder); and the ``notices`` of the
    credentials it leaves out."""

    def __init__(self) -> None:
        self.by_credential: dict[str, tuple[str, str]] = {}
        self.notices: list[ProvisionNotice] = []

    @property
    def env(self) -> tuple[tuple[str, str], ...]:
        return tuple(sorted(self.by_credential.values()))

    def first(self, found: Sequence[SessionCredential], policy: HostPolicy, session_id: str) -> list[Injection]:
        """Placeholders for the usable ``secrets`` (at the channel's opening); the injections for the proxy."""
        names: set[str] = set()
        secrets = variables(found)
        for secret in secrets:
            if not reachable(policy, secret.allowed_hosts):
                notice = credential_host_unreachable(secret)
                self.notices.append(notice)
                log.warning("session %s: %s: %s", session_id, notice.error_type, notice.message)
                continue
            if secret.secret_name in names:  # two vaults define the same variable: the first one wins
                continue
            names.add(secret.secret_name)
            self.by_credential[secret.credential_id] = (secret.secret_name, new_placeholder())
        return self.again(secrets)

    def again(self, secrets: Sequence[SessionCredential]) -> list[Injection]:
        """The injections for the placeholders this channel has, with the secrets as they are now."""
        found: list[Injection] = []
        for secret in variables(secrets):
            known = self.by_credential.get(secret.credential_id)
            if known is not None:
                hosts = None if secret.allowed_hosts is None else normalized_patterns(secret.allowed_hosts)
                found.append(Injection(known[1], secret.value, hosts, secret.header, secret.body))
        return found
