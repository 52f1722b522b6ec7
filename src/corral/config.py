"""Settings: read once from the environment (and an optional TOML file) into a frozen object.

Invariant: no other module reads ``os.environ``; everything configurable arrives through ``Settings``.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from corral.errors import ErrorCode, InvalidRequest


@dataclass(frozen=True)
class ProviderConfig:
    """A named model provider: ``<name>:<model>`` model ids are sent to ``base_url`` with ``api_key``."""

    name: str
    kind: str  # "anthropic" or "openai" (any OpenAI-compatible Chat Completions endpoint)
    base_url: str | None = None
    api_key: str | None = None
    context_window: int | None = None


@dataclass(frozen=True)
class Settings:
    data_dir: Path = Path(".corral")
    database_url: str = ""
    api_key: str | None = None
    host: str = "127.0.0.1"
    port: int = 8080
    # SQLite durability: NORMAL survives a crash of the process (kill -9); FULL also survives power loss.
    sqlite_synchronous: str = "NORMAL"
    max_request_bytes: int = 8 * 1024 * 1024
    sse_ping_seconds: float = 15.0
    strict_beta_header: bool = False
    max_agent_tools: int = 128  # entries of an agent's `tools` array (the docs say 128, the SDK 256)
    # harness
    workers: int = 1  # worker loops started by `corral serve` (0 = API only)
    worker_concurrency: int = 512  # sessions one worker process drives at once
    lease_ttl_seconds: float = 10.0
    max_tool_rounds: int = 200
    model_max_retries: int = 4
    model_retry_base_seconds: float = 0.5
    providers: Mapping[str, ProviderConfig] = field(default_factory=lambda: dict[str, ProviderConfig]())
    # sandbox
    sandbox_provider: str = "local"
    sandbox_mode: str = "lazy"  # lazy | speculative | eager
    sandbox_idle_seconds: float = 600.0
    egress_enabled: bool = True

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'corral.db').resolve()}"

    def with_overrides(self, **changes: Any) -> Settings:
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


def _bool(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _providers(env: Mapping[str, str], file_data: Mapping[str, Any]) -> dict[str, ProviderConfig]:
    providers = {
        "anthropic": ProviderConfig(
            "anthropic", "anthropic", env.get("ANTHROPIC_BASE_URL"), env.get("ANTHROPIC_API_KEY")
        ),
        "openai": ProviderConfig("openai", "openai", env.get("OPENAI_BASE_URL"), env.get("OPENAI_API_KEY")),
    }
    for name, raw in dict(file_data.get("providers", {})).items():
        if not isinstance(raw, dict):
            raise InvalidRequest(f"config: providers.{name} must be a table", code=ErrorCode.INVALID_REQUEST)
        table: dict[str, Any] = raw
        key_env = table.get("api_key_env")
        providers[name] = ProviderConfig(
            name=name,
            kind=str(table.get("kind", "openai")),
            base_url=table.get("base_url"),
            api_key=env.get(key_env) if isinstance(key_env, str) else None,
            context_window=table.get("context_window"),
        )
    return providers


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Build Settings from ``env`` (default: the process environment) and ``CORRAL_CONFIG`` (TOML)."""
    env = dict(os.environ if env is None else env)
    file_data: dict[str, Any] = {}
    if config_path := env.get("CORRAL_CONFIG"):
        file_data = tomllib.loads(Path(config_path).read_text())
    get = env.get
    return Settings(
        data_dir=Path(get("CORRAL_DATA_DIR", ".corral")),
        database_url=get("CORRAL_DATABASE_URL", ""),
        api_key=get("CORRAL_API_KEY") or None,
        host=get("CORRAL_HOST", "127.0.0.1"),
        port=int(get("CORRAL_PORT", "8080")),
        sqlite_synchronous=get("CORRAL_SQLITE_SYNCHRONOUS", "NORMAL").upper(),
        max_request_bytes=int(get("CORRAL_MAX_REQUEST_BYTES", str(8 * 1024 * 1024))),
        sse_ping_seconds=float(get("CORRAL_SSE_PING_SECONDS", "15")),
        strict_beta_header=_bool(get("CORRAL_STRICT_BETA", "0")),
        max_agent_tools=int(get("CORRAL_MAX_AGENT_TOOLS", "128")),
        workers=int(get("CORRAL_WORKERS", "1")),
        worker_concurrency=int(get("CORRAL_WORKER_CONCURRENCY", "512")),
        lease_ttl_seconds=float(get("CORRAL_LEASE_TTL", "10")),
        max_tool_rounds=int(get("CORRAL_MAX_TOOL_ROUNDS", "200")),
        model_max_retries=int(get("CORRAL_MODEL_MAX_RETRIES", "4")),
        model_retry_base_seconds=float(get("CORRAL_MODEL_RETRY_BASE", "0.5")),
        providers=_providers(env, file_data),
        sandbox_provider=get("CORRAL_SANDBOX_PROVIDER", "local"),
        sandbox_mode=get("CORRAL_SANDBOX_MODE", "lazy"),
        sandbox_idle_seconds=float(get("CORRAL_SANDBOX_IDLE_SECONDS", "600")),
        egress_enabled=_bool(get("CORRAL_EGRESS", "1")),
    )
