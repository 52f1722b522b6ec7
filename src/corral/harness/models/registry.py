"""Model ids → provider clients.

Model id grammar: ``claude-*`` and ``anthropic:<id>`` go to the ``anthropic`` provider; ``openai:<id>``
to ``openai``; ``<name>:<id>`` to the provider ``<name>`` of the config file (``Settings.providers``).

Invariants: one client per provider, shared by every session of the process (connection reuse); a
model id naming no known provider is a non-retryable ``ModelRequestFailed`` (``model_not_found``),
reported on the session like any other model failure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from corral.config import ProviderConfig, split_model_id
from corral.errors import ErrorCode, ModelRequestFailed
from corral.harness.models import anthropic, openai
from corral.harness.models.anthropic import AnthropicClient
from corral.harness.models.base import ModelClient
from corral.harness.models.openai import OpenAIClient

DEFAULT_CONTEXT_WINDOW = {"anthropic": 200_000, "openai": 128_000}
DEFAULT_URLS = {"anthropic": anthropic.DEFAULT_BASE_URL, "openai": openai.DEFAULT_BASE_URL}


@dataclass(frozen=True)
class ResolvedModel:
    client: ModelClient
    #: the model name the provider expects (the id without its ``<provider>:`` prefix)
    name: str
    provider: str
    context_window: int
    #: where requests go (the provider's ``base_url``, or its public default)
    url: str

    def describe(self) -> str:
        """``provider (url)``: how failures name where a request went."""
        return f"{self.provider} ({self.url})"


class ModelRegistry:
    def __init__(self, providers: Mapping[str, ProviderConfig]):
        self._providers = dict(providers)
        for kind in ("anthropic", "openai"):
            self._providers.setdefault(kind, ProviderConfig(kind, kind))
        self._clients: dict[str, ModelClient] = {}

    def resolve(self, model_id: str) -> ResolvedModel:
        provider, name = split_model_id(model_id)
        config = self._providers.get(provider)
        if config is None or config.kind not in DEFAULT_CONTEXT_WINDOW:
            raise ModelRequestFailed(
                f"model {model_id!r} names no configured provider (known: {', '.join(sorted(self._providers))})",
                retryable=False,
                code=ErrorCode.MODEL_NOT_FOUND,
            )
        window = config.context_window or DEFAULT_CONTEXT_WINDOW[config.kind]
        url = config.base_url or DEFAULT_URLS[config.kind]
        return ResolvedModel(self._client(config), name, config.name, window, url)

    @property
    def secrets(self) -> frozenset[str]:
        """The API keys of the configured providers: never part of an error message the harness writes."""
        return frozenset(config.api_key for config in self._providers.values() if config.api_key)

    def warm(self) -> None:
        """Build every configured provider's client and its lazy parts (blocking: run it in a thread at start-up,
        so the first request of a worker does not stall its event loop, and with it the lease heartbeats)."""
        for config in self._providers.values():
            if config.kind in DEFAULT_CONTEXT_WINDOW:
                self._client(config).warm()

    def _client(self, config: ProviderConfig) -> ModelClient:
        client = self._clients.get(config.name)
        if client is None:
            if config.kind == "anthropic":
                client = AnthropicClient(base_url=config.base_url, api_key=config.api_key)
            else:
                client = OpenAIClient(base_url=config.base_url, api_key=config.api_key)
            self._clients[config.name] = client
        return client

    async def aclose(self) -> None:
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.aclose()
