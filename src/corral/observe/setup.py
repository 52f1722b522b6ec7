"""``start(settings)`` / ``stop()``: what every process of a deployment does for its logs and traces.

Secrets the settings hold are registered for masking (``logs.redact``) before anything can log them; tracing is
switched on when an OTLP endpoint is configured. ``stop`` flushes pending spans off the event loop.
"""

from __future__ import annotations

import anyio

from corral import logs
from corral.config import Settings
from corral.observe import tracing


def start(settings: Settings, service: str = "corral") -> None:
    for secret in (settings.api_key, settings.metrics_token, settings.vault_key, settings.sandbox_host_token):
        for part in (secret or "").split(","):
            logs.redact(part.strip())
    for provider in settings.providers.values():
        logs.redact(provider.api_key)
    tracing.configure(settings.otlp_endpoint, service)


async def stop() -> None:
    await anyio.to_thread.run_sync(tracing.shutdown)
