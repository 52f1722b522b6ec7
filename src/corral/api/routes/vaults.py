"""``/v1/vaults`` and ``/v1/vaults/{vault_id}/credentials`` (api.md §11): vaults, credentials, ``mcp_oauth_validate``.

Invariant: every body sent here is a record's ``wire()`` (or a validation built from scrubbed captures), which
holds no secret field; the request bodies are ``corral.vault.params`` models.
"""

from __future__ import annotations

from fastapi import APIRouter, Request

from corral.api.http import IncludeArchived, JSONBytes, Limit100, PageToken, context, json_response, page_json
from corral.api.routes.common import ERRORS
from corral.api.wire import (
    BetaManagedAgentsCredential,
    BetaManagedAgentsCredentialValidation,
    BetaManagedAgentsDeletedCredential,
    BetaManagedAgentsDeletedVault,
    BetaManagedAgentsVault,
    CredentialPage,
    VaultPage,
)
from corral.vault.params import CredentialCreate, CredentialUpdate, VaultCreate, VaultUpdate

router = APIRouter(prefix="/v1/vaults", tags=["vaults"], responses=ERRORS)
CREDENTIAL = "/{vault_id}/credentials/{credential_id}"


@router.post("", response_model=BetaManagedAgentsVault, summary="Create a vault")
async def create_vault(request: Request, body: VaultCreate) -> JSONBytes:
    services, workspace = context(request)
    return json_response((await services.vaults.create_vault(workspace, body)).wire())


@router.get("/{vault_id}", response_model=BetaManagedAgentsVault, summary="Retrieve a vault")
async def retrieve_vault(request: Request, vault_id: str) -> JSONBytes:
    services, workspace = context(request)
    return json_response((await services.vaults.get_vault(workspace, vault_id)).wire())


@router.post("/{vault_id}", response_model=BetaManagedAgentsVault, summary="Update a vault")
async def update_vault(request: Request, vault_id: str, body: VaultUpdate) -> JSONBytes:
    services, workspace = context(request)
    return json_response((await services.vaults.update_vault(workspace, vault_id, body)).wire())


@router.get("", response_model=VaultPage, summary="List vaults, newest first")
async def list_vaults(
    request: Request, include_archived: IncludeArchived = False, limit: Limit100 = 20, page: PageToken = None
) -> JSONBytes:
    services, workspace = context(request)
    result = await services.vaults.list_vaults(workspace, include_archived=include_archived, limit=limit, page=page)
    return page_json(result, [record.wire() for record in result.items])


@router.delete(
    "/{vault_id}", response_model=BetaManagedAgentsDeletedVault, summary="Delete a vault and its credentials"
)
async def delete_vault(request: Request, vault_id: str) -> JSONBytes:
    services, workspace = context(request)
    await services.vaults.delete_vault(workspace, vault_id)
    return json_response({"id": vault_id, "type": "vault_deleted"})


@router.post(
    "/{vault_id}/archive",
    response_model=BetaManagedAgentsVault,
    summary="Archive a vault (one-way; its credentials are archived and their secrets purged)",
)
async def archive_vault(request: Request, vault_id: str) -> JSONBytes:
    services, workspace = context(request)
    return json_response((await services.vaults.archive_vault(workspace, vault_id)).wire())


@router.post("/{vault_id}/credentials", response_model=BetaManagedAgentsCredential, summary="Create a credential")
async def create_credential(request: Request, vault_id: str, body: CredentialCreate) -> JSONBytes:
    services, workspace = context(request)
    return json_response((await services.vaults.create_credential(workspace, vault_id, body)).wire())


@router.get(CREDENTIAL, response_model=BetaManagedAgentsCredential, summary="Retrieve a credential")
async def retrieve_credential(request: Request, vault_id: str, credential_id: str) -> JSONBytes:
    services, workspace = context(request)
    return json_response((await services.vaults.get_credential(workspace, vault_id, credential_id)).wire())


@router.post(CREDENTIAL, response_model=BetaManagedAgentsCredential, summary="Update a credential")
async def update_credential(request: Request, vault_id: str, credential_id: str, body: CredentialUpdate) -> JSONBytes:
    services, workspace = context(request)
    record = await services.vaults.update_credential(workspace, vault_id, credential_id, body)
    return json_response(record.wire())


@router.get("/{vault_id}/credentials", response_model=CredentialPage, summary="List a vault's credentials")
async def list_credentials(
    request: Request,
    vault_id: str,
    include_archived: IncludeArchived = False,
    limit: Limit100 = 20,
    page: PageToken = None,
) -> JSONBytes:
    services, workspace = context(request)
    result = await services.vaults.list_credentials(
        workspace, vault_id, include_archived=include_archived, limit=limit, page=page
    )
    return page_json(result, [record.wire() for record in result.items])


@router.delete(CREDENTIAL, response_model=BetaManagedAgentsDeletedCredential, summary="Delete a credential")
async def delete_credential(request: Request, vault_id: str, credential_id: str) -> JSONBytes:
    services, workspace = context(request)
    await services.vaults.delete_credential(workspace, vault_id, credential_id)
    return json_response({"id": credential_id, "type": "vault_credential_deleted"})


@router.post(
    CREDENTIAL + "/archive",
    response_model=BetaManagedAgentsCredential,
    summary="Archive a credential (one-way; purges its secret)",
)
async def archive_credential(request: Request, vault_id: str, credential_id: str) -> JSONBytes:
    services, workspace = context(request)
    return json_response((await services.vaults.archive_credential(workspace, vault_id, credential_id)).wire())


@router.post(
    CREDENTIAL + "/mcp_oauth_validate",
    response_model=BetaManagedAgentsCredentialValidation,
    summary="Probe an mcp_oauth credential against its MCP server (refreshing it on a 401)",
)
async def mcp_oauth_validate(request: Request, vault_id: str, credential_id: str) -> JSONBytes:
    services, workspace = context(request)
    return json_response(await services.vaults.validate_credential(workspace, vault_id, credential_id))
