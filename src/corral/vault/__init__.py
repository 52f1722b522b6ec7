"""The vault: workspace-scoped vaults of credentials whose secrets are write-only and sealed at rest.

Public surface: ``VaultStore`` (the API's verbs: ``create_vault`` … ``validate_credential``, ``check_attachable``
for sessions, ``rotate_key``), its ``access`` (``Access.credentials_for(workspace_id, vault_ids)``: the live
credentials with their secrets, for the processes that inject them), the typed inputs of
``corral.vault.params``, the ``Keyring`` and ``load_keyring`` (``CORRAL_VAULT_KEY`` or the data dir's key file).

Independent of ``session``, ``sandbox`` and ``catalog``; imports only ``db`` and the leaves. The harness never
imports it (the brain never holds a credential): secrets reach only the edge that uses them.

Invariant (the package's reason to exist): no API response, event, log line, error message, metric or trace
holds a secret, and the database holds secrets only as ciphertext.
"""

from corral.vault.access import Access, EnvironmentCredential, LiveCredential, MCPCredential
from corral.vault.crypto import Keyring, MasterKey, Sealed, VaultKeyError
from corral.vault.keyfile import KEY_FILE, load_keyring, new_entry, parse_keyring
from corral.vault.records import CredentialRecord, VaultRecord
from corral.vault.rotation import Rotation
from corral.vault.store import VaultStore

__all__ = [
    "KEY_FILE",
    "Access",
    "CredentialRecord",
    "EnvironmentCredential",
    "Keyring",
    "LiveCredential",
    "MCPCredential",
    "MasterKey",
    "Rotation",
    "Sealed",
    "VaultKeyError",
    "VaultRecord",
    "VaultStore",
    "load_keyring",
    "new_entry",
    "parse_keyring",
]
