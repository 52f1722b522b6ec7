"""Where the master keys come from: ``CORRAL_VAULT_KEY``, else ``$CORRAL_DATA_DIR/vault.key`` (made on first start).

The format (the setting and the file alike) is a list of entries separated by commas or new lines, the
active key first: ``ID:BASE64`` where ``BASE64`` is 32 random bytes (``corral vault generate-key`` prints
one), or a bare ``BASE64`` whose id is derived from the key. Lines starting with ``#`` are comments.

Invariants:

* A key that is not exactly 32 bytes of valid base64, a duplicate id or an empty list is a ``ConfigError``
  naming the source, never the value.
* The generated file is created with mode 0600 in a single ``O_EXCL`` open (two processes starting at once
  cannot both write one), and its creation is logged with its path, never its content. Processes that share a
  PostgreSQL database must share the key: a process that generated its own cannot open the others' secrets.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import re
from pathlib import Path

from corral.errors import ConfigError
from corral.vault.crypto import KEY_BYTES, Keyring, MasterKey, derived_key_id, encode_key, new_key_material

log = logging.getLogger("corral.vault")

KEY_FILE = "vault.key"
_KEY_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def _entry(raw: str, source: str, index: int) -> MasterKey:
    key_id, sep, encoded = raw.rpartition(":")
    try:
        material = base64.b64decode(encoded.encode(), validate=True)
    except (binascii.Error, ValueError):
        material = b""
    if len(material) != KEY_BYTES:
        raise ConfigError(f"{source}: key #{index} is not the base64 of {KEY_BYTES} bytes")
    if not sep:
        return MasterKey(derived_key_id(material), material)
    if not _KEY_ID.match(key_id):
        raise ConfigError(f"{source}: key #{index} has an id that is not 1-64 letters, digits, '_', '.' or '-'")
    return MasterKey(key_id, material)


def parse_keyring(text: str, source: str) -> Keyring:
    """The keyring ``text`` describes; ``source`` names it in errors (``CORRAL_VAULT_KEY``, a path)."""
    lines = [line for line in text.splitlines() if not line.strip().startswith("#")]
    entries = [part.strip() for line in lines for part in line.split(",") if part.strip()]
    if not entries:
        raise ConfigError(f"{source}: no vault master key in it")
    keys = [_entry(entry, source, index) for index, entry in enumerate(entries, 1)]
    try:
        return Keyring(keys)
    except ValueError as exc:
        raise ConfigError(f"{source}: {exc}") from None


def new_entry() -> str:
    """A fresh keyring entry, ``ID:BASE64`` (for ``corral vault generate-key``)."""
    material = new_key_material()
    return encode_key(MasterKey(derived_key_id(material), material))


def _create(path: Path) -> bool:
    """Write a new key file; False when another process created it first."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w") as out:
        out.write("# corral vault master keys (active first); see README, Vaults\n" + new_entry() + "\n")
        out.flush()
        os.fsync(out.fileno())
    return True


def load_keyring(setting: str | None, data_dir: Path) -> Keyring:
    """The keyring of ``CORRAL_VAULT_KEY`` if set, else of the data dir's key file, created if missing.

    Blocking file IO: call it at start-up (``anyio.to_thread`` from async code)."""
    if setting:
        return parse_keyring(setting, "CORRAL_VAULT_KEY")
    path = data_dir / KEY_FILE
    if _create(path):
        log.warning(
            "corral: generated a vault master key in %s (mode 0600). Back it up: the vault's secrets cannot be"
            " read without it. Processes sharing a PostgreSQL database must all use the same key"
            " (set CORRAL_VAULT_KEY to its content).",
            path,
        )
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the vault key file ({exc.strerror})") from None
    return parse_keyring(text, str(path))
