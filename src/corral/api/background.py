"""The API process's own background loops: the deployment scheduler and the webhook deliverer.

They live here rather than in ``corral.compose`` because a fire creates a session the way ``POST /v1/sessions``
does (``corral.api.session_ops``). Every ``corral serve`` (and ``corral worker``) runs both; the database makes
each tick fire once and each delivery settle once, however many processes run them.
"""

from __future__ import annotations

from corral.api.deployment_fire import scheduled_fire
from corral.compose.services import Services
from corral.deployments.scheduler import Scheduler
from corral.webhooks.deliverer import Deliverer


async def start_background(services: Services) -> None:
    settings = services.settings
    scheduler = Scheduler(services.db, scheduled_fire(services), lease=settings.scheduler_lease_seconds)
    deliverer = Deliverer(
        services.db,
        timeout=settings.webhook_timeout_seconds,
        retry_base=settings.webhook_retry_base_seconds,
        allow_private=settings.webhook_allow_private,
    )
    await services.tasks.start(scheduler.run)
    await services.tasks.start(deliverer.run)
