"""A real Prometheus (Debian's ``prometheus`` package; `make test` installs it) scrapes the running
services' internal metrics ports, loads the alert rules of deploy/observability, and answers a
query for the outbox backlog of every service."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from samspil.local.runner import free_port
from tests.e2e.conftest import RunningStack
from tests.support import prometheus_tool, wait_for

pytestmark = pytest.mark.e2e

SERVICES = ("provider-gateway", "employment", "social")
UP = 'up{job=~"samspil.*"}'
RULES = Path(__file__).resolve().parents[2] / "deploy" / "observability" / "alerts.yml"


def prometheus_binary() -> str:
    return prometheus_tool("prometheus")


@pytest.fixture
def prometheus(running_stack: RunningStack, tmp_path: Path) -> Iterator[str]:
    """A Prometheus scraping each service every second; yields its base URL and stops it after."""
    binary = prometheus_binary()
    jobs = [
        {
            "job_name": f"samspil-{service}",
            "static_configs": [{"targets": [urlsplit(running_stack.stack.metrics_url(service)).netloc]}],
        }
        for service in SERVICES
    ]
    config = tmp_path / "prometheus.yml"  # JSON is YAML
    config.write_text(
        json.dumps(
            {
                "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                "rule_files": [str(RULES)],
                "scrape_configs": jobs,
            }
        )
    )
    port = free_port()
    log = (tmp_path / "prometheus.log").open("w")
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


async def query(base_url: str, expression: str) -> list[dict[str, Any]]:
    """The result of an instant query, or an empty list while Prometheus is not answering yet."""
    try:
        async with httpx.AsyncClient(base_url=base_url, timeout=5.0) as client:
            response = await client.get("/api/v1/query", params={"query": expression})
    except httpx.TransportError:
        return []
    if response.status_code != 200:
        return []
    body = response.json()
    assert body["status"] == "success", body
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


async def test_a_real_prometheus_scrapes_the_outbox_backlog_of_every_service(prometheus: str) -> None:
    async def every_service_scraped() -> list[dict[str, Any]]:
        result = await query(prometheus, "samspil_outbox_pending")
        return result if {series["metric"].get("service") for series in result} == set(SERVICES) else []

    backlog = await wait_for(every_service_scraped, timeout=60.0)
    for series in backlog:
        assert series["metric"]["job"] == f"samspil-{series['metric']['service']}"
        assert float(series["value"][1]) >= 0

    # Waited for too: each scrape runs database queries, and Prometheus gives a scrape no longer
    # than its interval (1 s), so on a loaded machine one scrape can time out (up 0 until the next).
    async def every_service_up() -> dict[str, str] | None:
        up = {series["metric"]["job"]: series["value"][1] for series in await query(prometheus, UP)}
        return up if up == {f"samspil-{service}": "1" for service in SERVICES} else None

    await wait_for(every_service_up, timeout=60.0)
    async with httpx.AsyncClient(base_url=prometheus) as client:
        rules = (await client.get("/api/v1/rules")).json()
    loaded = {rule["name"] for group in rules["data"]["groups"] for rule in group["rules"]}
    assert {"SamspilOutboxNotDraining", "SamspilRelayWithoutLeader"} <= loaded
