"""Envelope encryption and the keyring: round trips, tampering, rotation, the key setting and the key file."""

from __future__ import annotations

import base64
import logging
import stat
from dataclasses import replace
from pathlib import Path

import pytest

from corral.errors import ConfigError
from corral.vault import Keyring, MasterKey, VaultKeyError, load_keyring, new_entry, parse_keyring
from corral.vault.crypto import KEY_BYTES, derived_key_id, new_key_material

SECRET = b"cnry-vlt-crypto-secret"


def ring(*ids: str) -> Keyring:
    return Keyring([MasterKey(key_id, new_key_material()) for key_id in ids])


def flip(text: str, at: int) -> str:
    raw = bytearray(base64.b64decode(text))
    raw[at % len(raw)] ^= 1
    return base64.b64encode(bytes(raw)).decode()


def test_a_sealed_secret_opens_only_for_its_owner_and_holds_no_clear_text() -> None:
    keys = ring("a")
    sealed = keys.seal("vcrd_1", SECRET)
    assert keys.open("vcrd_1", sealed) == SECRET
    assert SECRET not in repr(sealed).encode() and b"cnry" not in base64.b64decode(sealed.ciphertext)
    assert keys.seal("vcrd_1", SECRET) != sealed  # a fresh data key and nonces every time
    with pytest.raises(VaultKeyError):
        keys.open("vcrd_2", sealed)  # moved to another row


@pytest.mark.parametrize("part", ["wrapped_key", "ciphertext"])
@pytest.mark.parametrize("at", [0, 13, -1])
def test_any_flipped_bit_fails_to_open(part: str, at: int) -> None:
    keys = ring("a")
    sealed = keys.seal("vcrd_1", SECRET)
    with pytest.raises(VaultKeyError):
        keys.open("vcrd_1", replace(sealed, **{part: flip(getattr(sealed, part), at)}))


def test_a_relabelled_or_unknown_key_id_fails_with_a_message_naming_ids_only() -> None:
    keys = ring("a", "b")
    sealed = keys.seal("vcrd_1", SECRET)
    with pytest.raises(VaultKeyError):
        keys.open("vcrd_1", replace(sealed, key_id="b"))
    with pytest.raises(VaultKeyError) as missing:
        ring("c").open("vcrd_1", sealed)
    assert "'a'" in missing.value.message and "CORRAL_VAULT_KEY" in missing.value.message
    with pytest.raises(VaultKeyError):
        keys.open("vcrd_1", replace(sealed, ciphertext="not base64!"))


def test_rewrap_moves_the_data_key_and_keeps_the_ciphertext() -> None:
    old = ring("old")
    sealed = old.seal("vcrd_1", SECRET)
    both = Keyring([MasterKey("new", new_key_material()), old.active])
    moved = both.rewrap("vcrd_1", sealed)
    assert moved.key_id == "new" and moved.ciphertext == sealed.ciphertext and moved.wrapped_key != sealed.wrapped_key
    assert both.rewrap("vcrd_1", moved) is moved  # already under the active key
    only_new = Keyring([both.active])
    assert only_new.open("vcrd_1", moved) == SECRET
    with pytest.raises(VaultKeyError):
        only_new.open("vcrd_1", sealed)


def test_keyrings_parse_from_the_setting_and_refuse_without_quoting_it() -> None:
    material = new_key_material()
    encoded = base64.b64encode(material).decode()
    entry = new_entry()
    keys = parse_keyring(f"{entry}, {encoded}\n# retired\n", "CORRAL_VAULT_KEY")
    assert keys.active.key_id == entry.split(":")[0] and list(keys.keys)[1] == derived_key_id(material)
    assert encoded not in repr(keys) and encoded not in repr(keys.active)
    short = base64.b64encode(b"x" * (KEY_BYTES - 1)).decode()
    for bad in ("", "# nothing", short, f"a:{encoded},a:{encoded}", f"bad id:{encoded}", "k:!!!"):
        with pytest.raises(ConfigError) as refused:
            parse_keyring(bad, "CORRAL_VAULT_KEY")
        assert "CORRAL_VAULT_KEY" in refused.value.message and encoded not in refused.value.message


def test_without_a_setting_a_key_file_is_made_once_with_mode_0600(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data_dir = tmp_path / "data"
    with caplog.at_level(logging.WARNING, logger="corral.vault"):
        first = load_keyring(None, data_dir)
    key_file = data_dir / "vault.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert str(key_file) in caplog.text and "PostgreSQL" in caplog.text
    assert base64.b64encode(first.active.material).decode() not in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="corral.vault"):
        again = load_keyring(None, data_dir)
    assert again.active == first.active and caplog.text == ""
    entry = new_entry()
    assert load_keyring(entry, data_dir).active.key_id == entry.split(":")[0]  # the setting wins
