"""The official SDK against one live ``corral serve`` per engine and test package: the fixtures the API packages
(files, memory stores, skills …) share instead of each keeping a copy.

A package's conftest defines its ``server`` fixture with ``package_server`` (its own label and environment) and
imports ``client`` and ``other`` from here (listing them in ``__all__``, so pytest finds them and linters see them
used). ``client`` speaks with the admin key of the default workspace, ``other`` with a key of a second workspace.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator, Mapping
from contextlib import contextmanager

import anthropic
import anyio
import httpx2
import pytest

from tests.conftest import database_url
from tests.live import LiveServer, live_server


def sdk(server: LiveServer, api_key: str | None = None) -> anthropic.Anthropic:
    http = httpx2.Client(trust_env=False)
    return anthropic.Anthropic(
        base_url=server.base_url, api_key=api_key or server.api_key, max_retries=0, http_client=http
    )


def async_sdk(server: LiveServer, api_key: str | None = None) -> anthropic.AsyncAnthropic:
    http = httpx2.AsyncClient(trust_env=False)
    return anthropic.AsyncAnthropic(
        base_url=server.base_url, api_key=api_key or server.api_key, max_retries=0, http_client=http
    )


@contextmanager
def package_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, label: str, env: Mapping[str, str]
) -> Generator[LiveServer]:
    """An API-only ``corral serve`` on the engine the fixture is parametrised with (``request.param``)."""
    engine: str = request.param
    tmp = tmp_path_factory.mktemp(f"{label}-{engine}")
    db_url = anyio.run(database_url, engine, tmp)
    with live_server(db_url, data_dir=tmp / "data", env={"CORRAL_WORKERS": "0", **env}) as running:
        yield running


@pytest.fixture(scope="package")
def client(server: LiveServer) -> Iterator[anthropic.Anthropic]:
    with sdk(server) as made:
        yield made


@pytest.fixture(scope="package")
def other(server: LiveServer) -> Iterator[anthropic.Anthropic]:
    """A client of a second workspace (a key made with ``corral keys create``)."""
    with sdk(server, server.create_key("other")) as made:
        yield made
