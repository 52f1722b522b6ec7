"""A ``corral worker`` process has no API: it serves its own ``/metrics`` on ``--metrics-port``, behind the same
token as the API's."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.harness.workers import start_worker
from tests.live import free_port

pytestmark = pytest.mark.anyio
TOKEN = "worker-metrics-token-0123456789"


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


async def test_a_worker_serves_its_own_metrics_on_its_port(tmp_path: Path) -> None:
    port = free_port()
    env = {
        "CORRAL_DATABASE_URL": f"sqlite:///{tmp_path / 'corral.db'}",
        "CORRAL_DATA_DIR": str(tmp_path / "data"),
        "CORRAL_METRICS_TOKEN": TOKEN,
        "CORRAL_EGRESS": "0",
    }
    worker = await start_worker(["-m", "corral", "worker", "--metrics-port", str(port)], env, tmp_path / "worker.log")
    try:
        await worker.ready()
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", trust_env=False) as http:
            assert (await http.get("/metrics")).status_code == 401
            assert (await http.get("/other", headers={"Authorization": f"Bearer {TOKEN}"})).status_code == 404
            answer = await http.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    finally:
        await worker.stop()
    assert answer.status_code == 200 and "corral_active_sessions 0.0" in answer.text
    assert "corral_http_requests_total{" not in answer.text  # its own metrics: it answered no API request
    assert worker.process.returncode == 0 and TOKEN not in worker.text()
