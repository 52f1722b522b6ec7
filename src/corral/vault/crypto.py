"""Envelope encryption of credential secrets: a fresh data key per secret, wrapped by a master key.

Each secret is sealed with AES-256-GCM under a random 256-bit *data key*; the data key is itself sealed with
AES-256-GCM under the active *master key* of the ``Keyring`` (from ``CORRAL_VAULT_KEY`` or the key file, see
``corral.vault.keyfile``). What is stored is a ``Sealed``: the master key's id, the wrapped data key and the
ciphertext, each nonce beside its ciphertext. Nothing else about a secret is ever written.

Invariants:

* The database alone reveals nothing: without a master key, a ``Sealed`` is random bytes.
* A sealed secret is bound to its owner (the credential id is the associated data of both layers) and the
  wrapped key to its master key id: a ciphertext moved to another row, a wrapped key relabelled with another
  key id, or any flipped bit fails to open with ``VaultKeyError``; it never yields other plaintext.
* Rotation (``rewrap``) re-seals only the data key under the active master key; the secret's ciphertext is
  kept as it is, so a secret is never re-encrypted and its clear form exists only in memory, only while it is
  used. A keyring keeps retired keys after the active one, so data keys wrapped by either open during a
  rotation.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from corral.errors import ErrorCode, ServerError

KEY_BYTES = 32
_NONCE_BYTES = 12


class VaultKeyError(ServerError):
    """A secret could not be opened: its master key is not configured here, or the stored bytes were altered.

    Its message names key ids and credential ids only, never key material or plaintext."""

    default_code = ErrorCode.INTERNAL


@dataclass(frozen=True)
class Sealed:
    """A secret as stored: ``key_id`` names the master key that wrapped ``wrapped_key`` (base64 text)."""

    key_id: str
    wrapped_key: str
    ciphertext: str


@dataclass(frozen=True)
class MasterKey:
    key_id: str
    material: bytes

    def __repr__(self) -> str:  # never print key material, even in a traceback's locals
        return f"MasterKey({self.key_id!r})"


def derived_key_id(material: bytes) -> str:
    """The id of a key given without one: a short digest of it (it reveals nothing of a 256-bit key)."""
    return "k" + hashlib.sha256(b"corral-vault-key-id:" + material).hexdigest()[:12]


def new_key_material() -> bytes:
    return secrets.token_bytes(KEY_BYTES)


def encode_key(key: MasterKey) -> str:
    """The ``id:base64`` form of a keyring entry."""
    return f"{key.key_id}:{base64.b64encode(key.material).decode()}"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text.encode(), validate=True)
    except (binascii.Error, ValueError):
        raise VaultKeyError(f"{what} is not valid base64") from None


def _seal(key: bytes, plaintext: bytes, aad: bytes) -> str:
    nonce = secrets.token_bytes(_NONCE_BYTES)
    return _b64(nonce + AESGCM(key).encrypt(nonce, plaintext, aad))


def _open(key: bytes, sealed: str, aad: bytes, what: str) -> bytes:
    raw = _unb64(sealed, what)
    try:
        return AESGCM(key).decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], aad)
    except (InvalidTag, ValueError):
        raise VaultKeyError(f"{what} does not open: altered, moved or sealed with another key") from None


class Keyring:
    """The master keys of this deployment: the first is active (new secrets, rotation target); the others are
    kept only so that data keys they wrapped still open until ``corral vault rotate-key`` re-wraps them."""

    def __init__(self, keys: list[MasterKey]):
        if not keys:
            raise ValueError("a keyring needs at least one key")
        ids = [key.key_id for key in keys]
        if len(set(ids)) != len(ids):
            raise ValueError(f"key ids must be unique, got {ids}")
        self.keys = {key.key_id: key for key in keys}
        self.active = keys[0]

    def __repr__(self) -> str:
        return f"Keyring(active={self.active.key_id!r}, keys={list(self.keys)!r})"

    def _master(self, key_id: str, owner: str) -> MasterKey:
        key = self.keys.get(key_id)
        if key is None:
            raise VaultKeyError(
                f"the secret of {owner} is wrapped by master key {key_id!r}, which is not configured here:"
                " every process must share the same CORRAL_VAULT_KEY"
            )
        return key

    def seal(self, owner: str, plaintext: bytes) -> Sealed:
        """Seal ``plaintext`` for ``owner`` (a credential id) under a fresh data key."""
        data_key = new_key_material()
        master = self.active
        wrapped = _seal(master.material, data_key, f"{master.key_id}|{owner}".encode())
        return Sealed(master.key_id, wrapped, _seal(data_key, plaintext, owner.encode()))

    def _data_key(self, owner: str, sealed: Sealed) -> bytes:
        master = self._master(sealed.key_id, owner)
        aad = f"{master.key_id}|{owner}".encode()
        return _open(master.material, sealed.wrapped_key, aad, f"the data key of {owner}")

    def open(self, owner: str, sealed: Sealed) -> bytes:
        """The plaintext sealed for ``owner``; ``VaultKeyError`` if it was altered, moved or its key is missing."""
        data_key = self._data_key(owner, sealed)
        return _open(data_key, sealed.ciphertext, owner.encode(), f"the secret of {owner}")

    def rewrap(self, owner: str, sealed: Sealed) -> Sealed:
        """``sealed`` with its data key wrapped by the active master key; the ciphertext is untouched."""
        if sealed.key_id == self.active.key_id:
            return sealed
        data_key = self._data_key(owner, sealed)
        master = self.active
        wrapped = _seal(master.material, data_key, f"{master.key_id}|{owner}".encode())
        return Sealed(master.key_id, wrapped, sealed.ciphertext)
