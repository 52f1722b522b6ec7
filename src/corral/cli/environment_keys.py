"""``corral environments keys create|list|revoke``: a self-hosted environment's worker keys, straight on the
server's database (``corral.compose.environment_keys``), as ``corral keys`` makes API keys."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import anyio
import typer

from corral.config import Settings, load_settings
from corral.errors import ConfigError, RequestError

T = TypeVar("T")
environment_keys_app = typer.Typer(no_args_is_help=True, help="Manage a self-hosted environment's worker keys.")


@environment_keys_app.command("create")
def environment_keys_create(
    environment_id: str, name: Annotated[str, typer.Option(help="A label for the key.")] = ""
) -> None:
    """Create a key for a self_hosted environment's workers and print it (once; only its hash is stored)."""
    from corral.compose import environment_keys

    key = _environment_keys(lambda settings: environment_keys.create(settings, environment_id, name))
    typer.echo(f"# {key.id} of {key.environment_id}", err=True)
    typer.echo(key.key)


@environment_keys_app.command("list")
def environment_keys_list(environment_id: str) -> None:
    """List an environment's keys by prefix (never the keys themselves)."""
    from corral.compose import environment_keys

    for key in _environment_keys(lambda settings: environment_keys.listed(settings, environment_id)):
        typer.echo(f"{key.id}\t{key.prefix}…\t{key.name}\t{key.created_at}\t{key.revoked_at or 'active'}")


@environment_keys_app.command("revoke")
def environment_keys_revoke(environment_id: str, key_id: str) -> None:
    """Revoke an environment key at once."""
    from corral.compose import environment_keys

    key = _environment_keys(lambda settings: environment_keys.revoke(settings, environment_id, key_id))
    typer.echo(f"corral: revoked {key.id} ({key.prefix}…) at {key.revoked_at}")


def _environment_keys(command: Callable[[Settings], Awaitable[T]]) -> T:
    """Run one of ``corral.compose.environment_keys``; a refusal is one line and exit status 2."""
    try:
        return anyio.run(command, load_settings())
    except (ConfigError, RequestError) as exc:
        typer.echo(f"corral: {exc.message}", err=True)
        raise typer.Exit(2) from None
