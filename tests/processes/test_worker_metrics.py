"""`stockql worker` serves its metrics (job runs, provider calls) when asked for a port."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.support.metrics import Samples, scrape
from tests.support.processes import running_stockql, stockql_env
from tests.support.server import free_port
from tests.support.waiting import eventually


async def test_the_worker_serves_its_job_metrics_on_its_metrics_port(tmp_path: Path) -> None:
    port = free_port()
    env = stockql_env(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'stockql.db'}",
        migrate_on_start="true",
        worker_metrics_port=str(port),
        log_level="info",  # the worker is ready once it logs "runtime open"
    )
    async with (
        running_stockql("worker", env, directory=tmp_path),
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as client,
    ):
        samples = Samples({})

        async def polled() -> bool:
            nonlocal samples
            samples = await scrape(client)
            return samples.value("stockql_job_runs_total", job="poll_quotes", outcome="ok") >= 2

        await eventually(polled, within=30, every=0.5)
    assert (
        samples.value(
            "stockql_provider_calls_total", provider="simulator", operation="quote", outcome="ok"
        )
        >= 2
    )
    assert samples.value("process_resident_memory_bytes") > 0
