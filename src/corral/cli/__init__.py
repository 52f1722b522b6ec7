"""The ``corral`` command line: thin; parses arguments and calls the composition roots.

Adding a command: one ``@app.command()`` function that reads ``load_settings()`` and hands over to a
composition root (``corral.api``, ``corral.bench`` …); no logic here beyond argument handling. The client
commands (``agents``, ``environments``, ``sessions``, ``chat``) live in modules of their own and speak HTTP to a
server through the official SDK (``corral.cli.client``).

Errors are one line on stderr (``corral: …``) and a non-zero status, never a traceback unless ``--debug``.
"""

from __future__ import annotations

import socket
import sys
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, ParamSpec, TypeVar

import anyio
import typer

from corral import __version__, logs
from corral._types import json_object
from corral.bench.cli import bench
from corral.cli import heap
from corral.cli.chaos import chaos
from corral.cli.chat import chat
from corral.cli.environment_keys import environment_keys_app
from corral.cli.resources import agents_app, environments_app, sessions_app
from corral.config import Settings
from corral.config import load_settings as _load_settings
from corral.errors import ConfigError, CorralError, NotFound

P = ParamSpec("P")
T = TypeVar("T")

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,  # main() reports errors in one line; --debug shows the traceback
    help="corral: a self-hostable Managed Agents runtime.",
)
keys_app = typer.Typer(no_args_is_help=True, help="Manage API keys.")
app.add_typer(keys_app, name="keys")
vault_app = typer.Typer(no_args_is_help=True, help="Manage the vault's master keys.")
app.add_typer(vault_app, name="vault")
webhooks_app = typer.Typer(no_args_is_help=True, help="Manage webhook endpoints (a corral extension).")
app.add_typer(webhooks_app, name="webhooks")


def load_settings() -> Settings:
    """The settings, or one line naming what is wrong with them and exit status 2."""
    try:
        return _load_settings()
    except ConfigError as exc:
        typer.echo(f"corral: {exc.message}", err=True)
        raise typer.Exit(2) from None


def _check_port(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind((host, port))
        except OSError as exc:
            typer.echo(f"corral: cannot listen on {host}:{port}: {exc.strerror}", err=True)
            raise typer.Exit(2) from None


def _print_version(value: bool) -> None:
    if value:
        typer.echo(__version__)
        raise typer.Exit()


@app.callback()
def options(
    show_version: Annotated[
        bool | None,
        typer.Option("--version", callback=_print_version, is_eager=True, help="Print corral's version and exit."),
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show the traceback of an error.")] = False,
) -> None:
    """corral: a self-hostable Managed Agents runtime."""


@app.command()
def version() -> None:
    """Print corral's version."""
    typer.echo(__version__)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to bind (default CORRAL_HOST or 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port to bind (default CORRAL_PORT or 8080).")] = None,
    access_log: Annotated[bool | None, typer.Option(help="Log every request (default CORRAL_ACCESS_LOG: on).")] = None,
) -> None:
    """Serve the Managed Agents API (SQLite in CORRAL_DATA_DIR unless CORRAL_DATABASE_URL says otherwise)."""
    import uvicorn

    from corral.api.app import create_app
    from corral.cli.drain import DrainingServer
    from corral.compose.bootstrap import first_start_key

    settings = load_settings().with_overrides(host=host, port=port, access_log=access_log)
    logs.configure(settings.log_format, settings.log_level)
    _check_port(settings.host, settings.port)  # before anything else starts: a taken port is reported at once
    where = settings.resolved_database_url.split("@")[-1]
    say(f"corral {__version__}: database {where}, data in {settings.data_dir}, {settings.workers} worker pool(s)")
    applied = _open_database(settings)
    say(f"corral: applied {len(applied)} migration(s)" if applied else "corral: database schema up to date")
    secret = anyio.run(first_start_key, settings)
    if secret is not None:
        typer.echo(
            f"corral: created an API key for the default workspace (shown once, only its hash is kept):\n{secret}"
        )
    config = uvicorn.Config(
        announce_ready(create_app(settings), f"corral: listening on http://{settings.host}:{settings.port}"),
        host=settings.host,
        port=settings.port,
        access_log=False,  # the access log is corral's own (``corral.observe.http``), in the format of every line
        log_config=None,  # uvicorn's lines go through ``corral.logs`` too
        timeout_graceful_shutdown=5,
        # Longer than clients' idle-connection expiry (httpx: 5 s, uvicorn's default too): a server that
        # closes an idle keep-alive connection as the client reuses it fails that request for nothing.
        timeout_keep_alive=75,
        backlog=4096,
    )
    server = DrainingServer(config)  # SIGTERM drains: streams end cleanly, workers hand over, exit is bounded
    server.run()
    if not server.started:
        raise typer.Exit(3)  # uvicorn's own status for a server that could not start


def say(line: str) -> None:
    typer.echo(line, err=True)


def _open_database(settings: Settings) -> list[str]:
    """Open the database (applying the migrations it lacks); one line and status 2 if it cannot be reached."""
    from corral.compose.bootstrap import migrate as run
    from corral.errors import CorralError

    try:
        return anyio.run(run, settings)
    except (CorralError, OSError) as exc:
        why = exc.message if isinstance(exc, CorralError) else str(exc)
        typer.echo(f"corral: {why} ({settings.resolved_database_url.split('@')[-1]})", err=True)
        raise typer.Exit(2) from None


def announce_ready(app: ASGIApp, line: str) -> ASGIApp:
    """``app``, saying ``line`` on stderr once its lifespan started (workers running, the port about to be bound)."""

    async def announcing(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            return await app(scope, receive, send)

        async def sending(message: Message) -> None:
            await send(message)
            if message["type"] == "lifespan.startup.complete":
                heap.settle()
                say(line)

        await app(scope, receive, sending)

    return announcing


@app.command()
def worker(
    concurrency: Annotated[int | None, typer.Option(help="Sessions driven at once (default: the settings).")] = None,
    metrics_port: Annotated[
        int | None, typer.Option(help="Serve this worker's /metrics on this port (default CORRAL_METRICS_PORT).")
    ] = None,
) -> None:
    """Run harness workers only (no API): claim runnable sessions from the shared database and drive them.

    A deployment is N `corral serve` processes (CORRAL_WORKERS=0 for API-only) plus M `corral worker` processes
    on one PostgreSQL (CORRAL_DATABASE_URL). SIGTERM hands the sessions in flight over to the other workers.
    """
    import signal
    from contextlib import nullcontext

    from corral.api.background import start_background
    from corral.cli.drain import exit_deadline
    from corral.compose.services import open_services
    from corral.observe import setup
    from corral.observe.serve import serving_metrics

    async def run(settings: Settings) -> None:
        setup.start(settings, "corral-worker")
        port = settings.metrics_port
        metrics = serving_metrics(settings.host, port, settings.metrics_token) if port is not None else nullcontext()
        with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
            async with open_services(settings) as services, metrics:
                await start_background(services)
                heap.settle()
                typer.echo(f"corral: worker {__version__} running", err=True)
                async for _ in signals:
                    exit_deadline()  # leaving below hands the sessions over; a frozen child cannot hold it up
                    break
        await setup.stop()

    settings = load_settings().with_overrides(metrics_port=metrics_port)
    logs.configure(settings.log_format, settings.log_level)
    anyio.run(run, settings.with_overrides(workers=max(settings.workers, 1), worker_concurrency=concurrency))


@app.command()
def migrate() -> None:
    """Create or upgrade the database schema, then exit."""
    from corral.compose.bootstrap import migrate as run

    settings = load_settings()
    applied = anyio.run(run, settings)
    where = settings.resolved_database_url.split("@")[-1]
    if applied:
        typer.echo(f"corral: applied {len(applied)} migration(s) to {where}: {', '.join(applied)}")
    else:
        typer.echo(f"corral: {where} was already up to date")


@keys_app.command("create")
def keys_create(
    workspace: Annotated[str, typer.Option(help="Workspace name (created if it does not exist).")] = "default",
    name: Annotated[str, typer.Option(help="A label for the key.")] = "",
    admin: Annotated[bool, typer.Option(help="An admin key: also the operator routes (stats, keys).")] = False,
) -> None:
    """Create an API key and print it (once; only its hash is stored)."""
    from corral.compose.bootstrap import create_key

    secret, record = _run_keys(create_key, load_settings(), workspace, name, admin)
    typer.echo(f"# workspace {record.workspace_id}, key {record.id}{' (admin)' if admin else ''}", err=True)
    typer.echo(secret)


@keys_app.command("list")
def keys_list() -> None:
    """List every key: id, workspace, prefix, admin, created, last used, revoked (never a secret)."""
    from corral.compose.bootstrap import list_keys

    for key in _run_keys(list_keys, load_settings()):
        shown = f"{key.prefix}…" if key.prefix else "-"
        cells = [key.id, key.workspace_id, shown, "admin" if key.admin else "-", key.created_at]
        cells += [key.last_used_at or "never used", f"revoked {key.revoked_at}" if key.revoked_at else "live"]
        typer.echo("\t".join([*cells, key.name]))


@keys_app.command("revoke")
def keys_revoke(key_id: Annotated[str, typer.Argument(help="The key id (apikey_…): see `corral keys list`.")]) -> None:
    """Revoke a key: every API process refuses it from its next request on, open event streams included."""
    from corral.compose.bootstrap import revoke_key

    record = _run_keys(revoke_key, load_settings(), key_id)
    typer.echo(f"corral: revoked {record.id} at {record.revoked_at}")


def _run_keys(command: Callable[P, Awaitable[T]], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run a keys command; a refusal is one line and exit status 2 (configuration) or 1 (no such key)."""
    try:
        return anyio.run(partial(command, *args, **kwargs))
    except ConfigError as exc:
        typer.echo(f"corral: {exc.message}", err=True)
        raise typer.Exit(2) from None
    except NotFound as exc:
        typer.echo(f"corral: {exc.message}", err=True)
        raise typer.Exit(1) from None


Workspace = Annotated[str, typer.Option(help="Workspace name.")]


@webhooks_app.command("create")
def webhooks_create(
    url: str,
    event: Annotated[list[str] | None, typer.Option(help="An event type to send (repeat; default: all).")] = None,
    workspace: Workspace = "default",
) -> None:
    """Register a webhook endpoint; prints it as JSON with its signing secret (shown this once)."""
    import json

    from corral.compose import webhooks

    try:
        made = anyio.run(webhooks.create, load_settings(), workspace, url, event or None)
    except CorralError as exc:
        typer.echo(f"corral: {exc.message}", err=True)
        raise typer.Exit(2) from None
    typer.echo(json.dumps(made))


@webhooks_app.command("list")
def webhooks_list(workspace: Workspace = "default") -> None:
    """Print the workspace's webhook endpoints, one JSON object a line."""
    import json

    from corral.compose import webhooks

    for endpoint in anyio.run(webhooks.listed, load_settings(), workspace):
        typer.echo(json.dumps(endpoint))


@webhooks_app.command("delete")
def webhooks_delete(endpoint_id: str, workspace: Workspace = "default") -> None:
    """Delete a webhook endpoint and its pending deliveries."""
    from corral.compose import webhooks

    try:
        anyio.run(webhooks.delete, load_settings(), workspace, endpoint_id)
    except CorralError as exc:
        typer.echo(f"corral: {exc.message}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"corral: deleted {endpoint_id}")


@vault_app.command("generate-key")
def vault_generate_key() -> None:
    """Print a new master key entry (`ID:BASE64`) to put first in CORRAL_VAULT_KEY before `rotate-key`."""
    from corral.vault import new_entry

    typer.echo(new_entry())


@vault_app.command("rotate-key")
def vault_rotate_key() -> None:
    """Re-wrap every credential's data key under the active (first) master key; idempotent, safe to interrupt.

    Put the new key first in CORRAL_VAULT_KEY (or the data dir's vault.key), keeping the old one after it,
    restart every process, run this, then remove the old key.
    """
    from corral.compose.bootstrap import rotate_vault_key

    try:
        report = anyio.run(rotate_vault_key, load_settings())
    except ConfigError as exc:
        typer.echo(f"corral: {exc.message}", err=True)
        raise typer.Exit(2) from None
    typer.echo(
        f"corral: {report.rewrapped} data key(s) re-wrapped under {report.active_key_id};"
        f" {report.current} secret(s) now under it"
    )
    if report.unreadable:
        typer.echo(
            f"corral: {len(report.unreadable)} secret(s) wrapped by a key not configured here were left as they"
            f" are: {', '.join(report.unreadable)}",
            err=True,
        )
        raise typer.Exit(1)


@app.command()
def egress(
    data_dir: Annotated[
        Path | None, typer.Option(help="Data dir of the sandboxes served (default: CORRAL_DATA_DIR).")
    ] = None,
) -> None:
    """Run the egress proxy, supervised: the only way out of a sandbox (`corral serve` runs it itself)."""
    from corral.egress.process import run_egress
    from corral.errors import CorralError

    try:
        anyio.run(run_egress, load_settings().with_overrides(data_dir=data_dir))
    except CorralError as exc:  # a bad setting, no bubblewrap, no control socket: one line, not a traceback
        typer.echo(f"corral: {exc.message}", err=True)
        raise typer.Exit(2) from None


@app.command("sandbox-host")
def sandbox_host(
    host: Annotated[str | None, typer.Option(help="Interface to bind (default CORRAL_HOST or 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port to bind (default CORRAL_SANDBOX_HOST_PORT or 8090).")] = None,
) -> None:
    """Run this machine's sandboxes for the workers of a deployment (they use CORRAL_SANDBOX_PROVIDER=remote).

    Registers itself in the shared database (CORRAL_DATABASE_URL) with its URL (CORRAL_SANDBOX_HOST_URL) and
    capacity, and serves provision / execute / release to workers holding CORRAL_SANDBOX_HOST_TOKEN.
    """
    from corral.compose.hosts import run_sandbox_host
    from corral.errors import CorralError

    settings = load_settings().with_overrides(host=host, sandbox_host_port=port)
    _check_port(settings.host, settings.sandbox_host_port)
    try:
        anyio.run(run_sandbox_host, settings)
    except CorralError as exc:  # no token, no bubblewrap, the database unreachable: one line, not a traceback
        typer.echo(f"corral: {exc.message}", err=True)
        raise typer.Exit(2) from None


app.command("bench")(bench)  # `corral bench [SUITE…] [--quick]`, `corral bench report`: see corral.bench.cli
app.add_typer(agents_app, name="agents")
environments_app.add_typer(environment_keys_app, name="keys")
app.add_typer(environments_app, name="environments")
app.add_typer(sessions_app, name="sessions")
app.command("chat")(chat)
app.command("chaos")(chaos)  # `corral chaos [--seed N] [--soak]`: see corral.cli.chaos


def main() -> None:
    """Run the command; an error it did not handle is one line on stderr and status 1 (``--debug``: the traceback)."""
    try:
        app()
    except KeyboardInterrupt:
        raise SystemExit(130) from None
    except Exception as exc:
        if "--debug" in sys.argv:
            raise
        typer.echo(f"corral: {describe(exc)} (--debug shows the traceback)", err=True)
        raise SystemExit(1) from None


def describe(exc: Exception) -> str:
    """One line saying what went wrong, naming the server for a client's errors."""
    import anthropic

    from corral.cli.client import ClientError

    if isinstance(exc, ClientError):
        return str(exc)
    if isinstance(exc, anthropic.APIConnectionError):
        url = exc.request.url
        return f"cannot reach the server at {url.scheme}://{url.netloc.decode()}: {exc.__cause__ or exc}"
    if isinstance(exc, anthropic.APIStatusError):
        error = json_object((json_object(exc.body) or {}).get("error")) or {}
        message = error.get("message") or exc.message
        return f"the server answered {exc.status_code}: {message}"
    return f"{type(exc).__name__}: {exc}".splitlines()[0]
