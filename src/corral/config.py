"""Settings: read once from the environment (and an optional TOML file) into a frozen object.

Each setting is declared exactly once, as a field of ``Settings`` with its default, the environment variable
that sets it and one line of documentation (``setting``); ``load_settings`` derives everything else from those
declarations (parsing by the field's type, the README's configuration table is checked against them).

Invariants: no other module reads ``os.environ``; everything configurable arrives through ``Settings``; a value
that cannot be parsed, or a config file that is not valid, raises ``ConfigError`` naming the variable or the
key, before anything starts.
"""

from __future__ import annotations

import os
import tomllib
import types
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal, get_args, get_origin, get_type_hints

from corral._types import json_object
from corral.errors import ConfigError
from corral.prices import PriceTable, load_prices
from corral.vocab.options import LogFormat, ProvisioningMode, SqliteSynchronous, WorkspaceSnapshots

ProviderKind = Literal["anthropic", "openai"]
PROVIDER_KINDS: tuple[ProviderKind, ...] = get_args(ProviderKind)


@dataclass(frozen=True)
class ProviderConfig:
    """A named model provider: ``<name>:<model>`` model ids are sent to ``base_url`` with ``api_key``."""

    name: str
    kind: ProviderKind  # "openai": any OpenAI-compatible Chat Completions endpoint
    base_url: str | None = None
    api_key: str | None = None
    context_window: int | None = None


def split_model_id(model_id: str) -> tuple[str, str]:
    """``(provider, model)`` of a model id: ``claude-*`` → ``anthropic``; ``<provider>:<model>`` → that provider;
    anything else names no provider (``""``)."""
    if ":" in model_id:
        provider, _, name = model_id.partition(":")
        return provider, name
    if model_id.startswith("claude"):
        return "anthropic", model_id
    return "", model_id


def setting(default: Any, env: str, doc: str, *, secret: bool = False) -> Any:
    """Declare a setting: its default, the environment variable that sets it, what it means; a ``secret`` one is
    left out of ``repr(settings)`` (tracebacks and logs may show the settings object)."""
    return field(default=default, metadata={"env": env, "doc": doc}, repr=not secret)


@dataclass(frozen=True)
class Settings:
    data_dir: Path = setting(Path(".corral"), "CORRAL_DATA_DIR", "data directory (SQLite file, sandboxes' workspaces)")
    database_url: str = setting(
        "", "CORRAL_DATABASE_URL", "`sqlite:///path.db` or `postgresql://…` (default: a SQLite file in the data dir)"
    )
    api_key: str | None = setting(None, "CORRAL_API_KEY", "accepted as an admin key of the default workspace")
    host: str = setting("127.0.0.1", "CORRAL_HOST", "interface `corral serve` binds")
    port: int = setting(8080, "CORRAL_PORT", "port `corral serve` binds")
    sqlite_synchronous: SqliteSynchronous = setting(
        "NORMAL", "CORRAL_SQLITE_SYNCHRONOUS", "`NORMAL` survives `kill -9`; `FULL` also a power cut"
    )
    max_request_bytes: int = setting(8 * 1024 * 1024, "CORRAL_MAX_REQUEST_BYTES", "larger request bodies get a 413")
    sse_ping_seconds: float = setting(15.0, "CORRAL_SSE_PING_SECONDS", "keep-alive `event: ping` interval on streams")
    strict_beta_header: bool = setting(
        False,
        "CORRAL_STRICT_BETA",
        "`1`: `/v1/*` answers 404 without `anthropic-beta: managed-agents-2026-04-01` (`/v1/memory_stores` also takes"
        " `agent-memory-2026-07-22`; `/v1/files` and `/v1/skills`, whose SDK calls send none, are never gated)",
    )
    max_agent_tools: int = setting(128, "CORRAL_MAX_AGENT_TOOLS", "most entries an agent's `tools` array may have")
    # tenancy limits (corral.api.limits): per workspace, or per key, and per API process
    rate_writes_per_minute: int = setting(
        60,
        "CORRAL_RATE_WRITES_PER_MINUTE",
        "POST and DELETE requests per minute per workspace, sending events excepted (0: no limit)",
    )
    rate_reads_per_minute: int = setting(
        600, "CORRAL_RATE_READS_PER_MINUTE", "GET requests per minute per workspace (0: no limit)"
    )
    max_events_per_request: int = setting(
        100, "CORRAL_MAX_EVENTS_PER_REQUEST", "most events one `POST /v1/sessions/{id}/events` may send"
    )
    max_event_bytes: int = setting(
        4 * 1024 * 1024, "CORRAL_MAX_EVENT_BYTES", "largest event a client may send (its JSON, in bytes): 413 beyond"
    )
    max_streams_per_key: int = setting(
        32, "CORRAL_MAX_STREAMS_PER_KEY", "event streams one workspace API key may hold open at once (0: no limit)"
    )
    # tenancy quotas (corral.session.quotas): checked in the transaction that would pass them, on any process
    max_events_per_session: int = setting(
        100_000,
        "CORRAL_MAX_EVENTS_PER_SESSION",
        "events a session's log may hold; a client's send past it is a 400 (its agent's own events count; 0: none)",
    )
    max_session_bytes: int = setting(
        512 * 1024 * 1024,
        "CORRAL_MAX_SESSION_BYTES",
        "bytes of stored event JSON a session's log may hold; a client's send past it is a 400 (0: no limit)",
    )
    max_sessions_per_workspace: int = setting(
        10_000,
        "CORRAL_MAX_SESSIONS_PER_WORKSPACE",
        "sessions not archived one workspace may hold; one more is a 400 (0: no limit)",
    )
    # harness
    workers: int = setting(1, "CORRAL_WORKERS", "worker pools `corral serve` runs (0: API only)")
    worker_concurrency: int = setting(512, "CORRAL_WORKER_CONCURRENCY", "sessions one worker process drives at once")
    lease_ttl_seconds: float = setting(10.0, "CORRAL_LEASE_TTL", "a worker's lease on a session (seconds, down to 2)")
    work_lease_ttl_seconds: int = setting(
        90, "CORRAL_WORK_LEASE_TTL", "a self-hosted worker's lease on a work item without `desired_ttl_seconds`"
    )
    max_tool_rounds: int = setting(200, "CORRAL_MAX_TOOL_ROUNDS", "model requests with tool calls in one turn")
    model_max_retries: int = setting(4, "CORRAL_MODEL_MAX_RETRIES", "retries of a failed model request")
    model_retry_base_seconds: float = setting(0.5, "CORRAL_MODEL_RETRY_BASE", "first retry delay (then doubling)")
    model_max_retry_delay_seconds: float = setting(60.0, "CORRAL_MODEL_MAX_RETRY_DELAY", "longest retry delay")
    model_max_tokens: int = setting(8192, "CORRAL_MODEL_MAX_TOKENS", "`max_tokens` of a model request")
    compaction_limit: int = setting(
        3, "CORRAL_COMPACTION_LIMIT", "compactions in a row without a model answer before a turn gives up"
    )
    warm_log_events: int = setting(
        100_000,
        "CORRAL_WARM_LOG_EVENTS",
        "events of finished wakes' session logs a worker process keeps, so a session's next wake reads only what"
        " follows (least recently used dropped first; 0: off, every wake reads the whole log)",
    )
    providers: Mapping[str, ProviderConfig] = field(default_factory=lambda: dict[str, ProviderConfig]())
    prices_file: Path | None = setting(
        None, "CORRAL_PRICES", "TOML file of model list prices for budgets, added to the shipped ones (`corral.prices`)"
    )
    prices: PriceTable = field(default_factory=PriceTable.defaults)
    # sandbox
    sandbox_provider: str = setting("local", "CORRAL_SANDBOX_PROVIDER", "sandbox provider (`corral.sandboxes` name)")
    sandbox_mode: ProvisioningMode = setting(
        "lazy", "CORRAL_SANDBOX_MODE", "when sandboxes start: `lazy`, `speculative` or `eager`"
    )
    sandbox_idle_seconds: float = setting(600.0, "CORRAL_SANDBOX_IDLE_SECONDS", "idle sandboxes stop after this")
    max_sandboxes_per_workspace: int = setting(
        0,
        "CORRAL_MAX_SANDBOXES_PER_WORKSPACE",
        "live sandboxes one workspace may run at once, counted per process that runs them (a `corral serve` or"
        " `corral worker` with the local provider, a `corral sandbox-host`); one more is a tool error (0: no limit)",
    )
    workspace_disk_bytes: int = setting(
        0,
        "CORRAL_WORKSPACE_DISK_BYTES",
        "bytes (files and their metadata) the sessions of one workspace may hold together on one machine's sandbox"
        " disk; past it writes fail with `EDQUOT` (0: no limit; each session also has its own quota)",
    )
    egress_enabled: bool = setting(True, "CORRAL_EGRESS", "`0`: sandboxes get no network at all")
    egress_allow_private: tuple[str, ...] = setting(
        (),
        "CORRAL_EGRESS_ALLOW_PRIVATE",
        "comma-separated networks (CIDR), addresses or host names the egress reaches although private",
    )
    egress_max_connections: int = setting(
        64, "CORRAL_EGRESS_MAX_CONNECTIONS", "connections one sandbox may hold open through the egress at once"
    )
    egress_upstream_ca: Path | None = setting(
        None,
        "CORRAL_EGRESS_UPSTREAM_CA",
        "a PEM file of CA certificates the egress trusts, beside the usual ones, for the HTTPS hosts where it injects"
        " credentials (hosts behind a private CA); must be readable by the egress's own uid",
    )
    # sandbox hosts (corral.hosts): `corral sandbox-host` processes and the `remote` provider of the workers
    sandbox_host_token: str | None = setting(
        None,
        "CORRAL_SANDBOX_HOST_TOKEN",
        "the deployment's token between workers and sandbox hosts (required by `corral sandbox-host` and the"
        " `remote` provider); comma-separated while one rotates: a host accepts each, a worker sends the first",
        secret=True,
    )
    sandbox_host_port: int = setting(8090, "CORRAL_SANDBOX_HOST_PORT", "port `corral sandbox-host` binds")
    sandbox_host_url: str = setting(
        "",
        "CORRAL_SANDBOX_HOST_URL",
        "the URL workers reach this sandbox host at (default: `http://<CORRAL_HOST>:<CORRAL_SANDBOX_HOST_PORT>`)",
    )
    sandbox_host_capacity: int = setting(
        64, "CORRAL_SANDBOX_HOST_CAPACITY", "live sandboxes one sandbox host runs at most"
    )
    # deployments and webhooks (corral.deployments, corral.webhooks)
    scheduler_lease_seconds: float = setting(
        30.0, "CORRAL_SCHEDULER_LEASE", "a scheduler's claim on a due deployment (seconds): a killed one's lapses then"
    )
    webhook_allow_private: bool = setting(
        False,
        "CORRAL_WEBHOOK_ALLOW_PRIVATE",
        "`1`: webhook URLs may name private or loopback addresses, over plain HTTP too (default: public HTTPS only)",
    )
    webhook_timeout_seconds: float = setting(10.0, "CORRAL_WEBHOOK_TIMEOUT", "one webhook delivery attempt (seconds)")
    webhook_retry_base_seconds: float = setting(
        5.0, "CORRAL_WEBHOOK_RETRY_BASE", "first webhook retry delay (then doubling, with jitter, up to an hour)"
    )
    # vault
    vault_key: str | None = setting(
        None,
        "CORRAL_VAULT_KEY",
        "vault master keys, `ID:BASE64` (32 bytes) comma-separated, active first (default: `vault.key` in the data"
        " dir, made on first start)",
        secret=True,
    )
    # blobs (corral.blobs)
    blob_url: str = setting(
        "",
        "CORRAL_BLOB_URL",
        "where blobs (files, skills, session outputs) live: empty = `blobs/` in the data dir; `s3://bucket/prefix` ="
        " an S3-compatible object store",
    )
    s3_endpoint_url: str | None = setting(
        None,
        "CORRAL_S3_ENDPOINT_URL",
        "URL of the S3-compatible store (default: AWS S3); region and credentials come from the standard `AWS_*`"
        " variables",
    )
    blob_max_bytes: int = setting(
        500 * 1024 * 1024, "CORRAL_BLOB_MAX_BYTES", "largest blob stored; a larger one is refused (413) as it streams"
    )
    workspace_snapshots: WorkspaceSnapshots = setting(
        "auto",
        "CORRAL_WORKSPACE_SNAPSHOTS",
        "`on`: sessions' workspaces are snapshotted to the blob store when a turn ends and a sandbox stops, and"
        " restored on another machine; `auto` (default): on when the blob store is an S3-protocol store (several"
        " machines), off with blobs in the data dir (one machine: the workspace is already there)",
    )
    file_uploads_downloadable: bool = setting(
        True,
        "CORRAL_FILE_UPLOADS_DOWNLOADABLE",
        "`0`: uploaded files are input only (`downloadable: false`, download is a 400 `file_not_downloadable`), as"
        " on the hosted API",
    )
    # logs, metrics, traces (corral.logs, corral.observe)
    log_format: LogFormat = setting(
        "auto", "CORRAL_LOG_FORMAT", "`json`, `text`, or `auto`: readable on a terminal, JSON lines otherwise"
    )
    log_level: str = setting("INFO", "CORRAL_LOG_LEVEL", "the least severe level logged (`DEBUG` … `ERROR`)")
    access_log: bool = setting(True, "CORRAL_ACCESS_LOG", "`0`: no line per HTTP request")
    metrics_token: str | None = setting(
        None,
        "CORRAL_METRICS_TOKEN",
        "a bearer token that also opens `/metrics` (besides an admin key); the only way into a worker's `/metrics`",
        secret=True,
    )
    metrics_port: int | None = setting(
        None, "CORRAL_METRICS_PORT", "port a `corral worker` serves its own `/metrics` on (unset: none)"
    )
    otlp_endpoint: str = setting(
        "",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTLP/HTTP collector that traces are sent to (`<url>/v1/traces`); unset: none",
    )
    # server-side tools
    web_search_url: str | None = setting(
        None, "CORRAL_WEB_SEARCH_URL", "base URL of a SearXNG instance (JSON API enabled): turns `web_search` on"
    )

    @property
    def snapshots_enabled(self) -> bool:
        if self.workspace_snapshots == "auto":
            return self.blob_url.startswith("s3://")
        return self.workspace_snapshots == "on"

    @property
    def provider_names(self) -> frozenset[str]:
        """Every provider a model id may name: the two built-in ones and those of the config file."""
        return frozenset(PROVIDER_KINDS) | frozenset(self.providers)

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'corral.db').resolve()}"

    def with_overrides(self, **changes: Any) -> Settings:
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


@dataclass(frozen=True)
class Declared:
    """One declared setting, as ``documented`` lists them."""

    name: str
    env: str
    default: Any
    doc: str


def documented() -> list[Declared]:
    """Every setting that an environment variable sets, in declaration order."""
    return [
        Declared(item.name, item.metadata["env"], item.default, item.metadata["doc"])
        for item in fields(Settings)
        if "env" in item.metadata and item.default is not MISSING
    ]


_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off", ""})


def _parse(env: str, raw: str, kind: Any) -> Any:
    """``raw`` as a value of the annotated type ``kind``; ``ConfigError`` naming ``env`` otherwise."""
    if get_origin(kind) in (types.UnionType,):  # ``X | None``: an empty value is None
        options = [arg for arg in get_args(kind) if arg is not type(None)]
        return None if raw == "" else _parse(env, raw, options[0])
    if get_origin(kind) is Literal:
        for choice in get_args(kind):
            if str(choice).lower() == raw.strip().lower():
                return choice
        raise ConfigError(f"{env}={raw!r}: expected one of {', '.join(map(str, get_args(kind)))}")
    if get_origin(kind) is tuple:  # ``tuple[str, ...]``: a comma-separated list
        return tuple(item.strip() for item in raw.split(",") if item.strip())
    if kind is bool:
        value = raw.strip().lower()
        if value not in _TRUE | _FALSE:
            raise ConfigError(f"{env}={raw!r}: expected 1 or 0")
        return value in _TRUE
    try:
        return kind(raw)
    except ValueError:
        raise ConfigError(f"{env}={raw!r}: expected a value of type {kind.__name__}") from None


def _providers(env: Mapping[str, str], file_data: Mapping[str, Any]) -> dict[str, ProviderConfig]:
    providers = {
        "anthropic": ProviderConfig(
            "anthropic", "anthropic", env.get("ANTHROPIC_BASE_URL"), env.get("ANTHROPIC_API_KEY")
        ),
        "openai": ProviderConfig("openai", "openai", env.get("OPENAI_BASE_URL"), env.get("OPENAI_API_KEY")),
    }
    tables = json_object(file_data.get("providers", {}))
    if tables is None:
        raise ConfigError("config: [providers] must be a table of tables")
    for name, raw in tables.items():
        providers[name] = _provider(name, raw, env)
    return providers


def _provider(name: str, raw: object, env: Mapping[str, str]) -> ProviderConfig:
    table = json_object(raw)
    if table is None:
        raise ConfigError(f"config: providers.{name} must be a table")
    unknown = sorted(set(table) - {"kind", "base_url", "api_key_env", "context_window"})
    if unknown:
        raise ConfigError(f"config: providers.{name}: unknown keys {unknown}")
    kind = table.get("kind", "openai")
    if kind not in PROVIDER_KINDS:
        raise ConfigError(f"config: providers.{name}.kind = {kind!r}: expected one of {', '.join(PROVIDER_KINDS)}")
    base_url, key_env, window = table.get("base_url"), table.get("api_key_env"), table.get("context_window")
    if base_url is not None and (not isinstance(base_url, str) or not base_url.startswith(("http://", "https://"))):
        raise ConfigError(f"config: providers.{name}.base_url must be an http(s) URL")
    if key_env is not None and not isinstance(key_env, str):
        raise ConfigError(f"config: providers.{name}.api_key_env must be the name of an environment variable")
    if window is not None and (isinstance(window, bool) or not isinstance(window, int) or window < 1024):
        raise ConfigError(f"config: providers.{name}.context_window must be an integer of at least 1024")
    api_key = env.get(key_env) if key_env else None
    return ProviderConfig(name, kind, base_url, api_key, window)


def _file(path: str) -> dict[str, Any]:
    try:
        return tomllib.loads(Path(path).read_text())
    except OSError as exc:
        raise ConfigError(f"CORRAL_CONFIG={path}: cannot read it ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"CORRAL_CONFIG={path}: not valid TOML ({exc})") from None


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Build Settings from ``env`` (default: the process environment) and ``CORRAL_CONFIG`` (TOML)."""
    env = dict(os.environ if env is None else env)
    file_data = _file(env["CORRAL_CONFIG"]) if env.get("CORRAL_CONFIG") else {}
    hints = get_type_hints(Settings)
    values: dict[str, Any] = {
        item.name: _parse(item.env, env[item.env], hints[item.name]) for item in documented() if item.env in env
    }
    prices = load_prices(values.get("prices_file"))
    return Settings(**values, providers=_providers(env, file_data), prices=prices)
