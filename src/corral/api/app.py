"""``create_app(settings)``: the FastAPI application, its lifespan (``Services``), gate and error handlers."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from corral import __version__
from corral.api import errors, openapi
from corral.api.background import start_background
from corral.api.limits import KeyStreams
from corral.api.middleware import Gate
from corral.api.routes import (
    agents,
    deployments,
    environments,
    events,
    files,
    memory_stores,
    resources,
    sessions,
    skills,
    system,
    threads,
    vaults,
    webhooks,
    work,
)
from corral.compose.services import open_services
from corral.config import Settings
from corral.console.app import ConsoleDispatch
from corral.observe import setup
from corral.observe.http import Observed
from corral.work import WorkQueue


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncGenerator[None]:
        setup.start(settings)
        try:
            async with open_services(settings) as services:
                await start_background(services)
                app.state.services = services
                app.state.work = WorkQueue(services.db, settings.work_lease_ttl_seconds)
                try:
                    yield
                finally:
                    app.state.work.close()
                    app.state.services = app.state.work = None
        finally:
            await setup.stop()

    app = FastAPI(
        title="corral",
        version=__version__,
        summary="A self-hostable runtime that speaks the Claude Managed Agents API",
        lifespan=lifespan,
        # FastAPI's /docs and /redoc pages load their scripts from a public CDN, so they are blank offline (and
        # corral's users may be): the API is described by /openapi.json alone
        docs_url=None,
        redoc_url=None,
    )
    app.state.services = app.state.work = None
    app.state.key_streams = KeyStreams(settings.max_streams_per_key)
    routers = [
        module.router
        for module in (
            agents,
            environments,
            sessions,
            resources,
            events,
            threads,
            vaults,
            files,
            memory_stores,
            skills,
            deployments,
            webhooks,
            system,
            work,
        )
    ]
    for router in routers:
        app.include_router(router)
    app.state.route_methods = errors.route_methods(routers)
    errors.install(app)
    openapi.install(app)
    app.add_middleware(Gate, settings=settings)
    app.add_middleware(ConsoleDispatch)  # before the gate: /console signs in by cookie (corral.console)
    app.add_middleware(Observed, access_log=settings.access_log, metrics_token=settings.metrics_token)  # outermost
    return app
