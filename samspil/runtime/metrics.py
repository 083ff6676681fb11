"""Prometheus text metrics for a service: HTTP requests by route and status, the state of its
reliable messaging (outbox backlog, parked records, dead letters, relay leadership) and the size
of the tables that grow with traffic (so bounded retention can be seen to hold)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from fastapi.responses import PlainTextResponse

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# Operational tables whose size is reported, where the service's database has them; any table
# whose name starts with "audit" is reported too.
SIZED_TABLES = ("inbox", "outbox", "dead_letter", "idempotency_key", "audit_log", "share_log")


Counts = Counter[tuple[str, str, int]]


class ResponseStatus:
    """Passes an ASGI app's messages on and remembers the status it answered (500 if none)."""

    def __init__(self, send: Any) -> None:
        self._send = send
        self.status = 500

    async def send(self, message: Any) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
        await self._send(message)


class RequestCounter:
    """ASGI middleware counting answered requests by method, route template and status."""

    def __init__(self, app: Any, counts: Counts) -> None:
        self.app = app
        self.counts = counts

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        response = ResponseStatus(send)
        try:
            await self.app(scope, receive, response.send)
        finally:
            # The route's template, not the path, so ids do not explode the label set.
            path = getattr(scope.get("route"), "path", "unmatched")
            self.counts[(scope["method"], path, response.status)] += 1


def _escape(value: str) -> str:
    return value.replace("\\\\", "\\\\\\\\").replace('"', '\\\\"')


async def render(service: str, runtime: Any, counts: Counts) -> PlainTextResponse:
    lines = [
        "# HELP samspil_http_requests_total HTTP requests answered, by method, route and status.",
        "# TYPE samspil_http_requests_total counter",
    ]
    for (method, path, status), count in sorted(counts.items()):
        lines.append(
            f'samspil_http_requests_total{{service="{service}",method="{method}",route="{_escape(path)}",'
            f'status="{status}"}} {count}'
        )
    row = await runtime.pool.fetchrow(
        "SELECT (SELECT count(*) FROM outbox WHERE published_at IS NULL AND parked_at IS NULL) AS pending,"
        " (SELECT count(*) FROM outbox WHERE parked_at IS NOT NULL) AS parked,"
        " (SELECT count(*) FROM dead_letter WHERE replayed_at IS NULL) AS dead_letters"
    )
    for name, help_text, value in (
        ("samspil_outbox_pending", "Outbox records not yet published.", row["pending"]),
        ("samspil_outbox_parked", "Outbox records the broker can never take.", row["parked"]),
        ("samspil_dead_letters", "Dead letters not yet replayed.", row["dead_letters"]),
        (
            "samspil_outbox_relay_leader",
            "1 when this process's relay publishes.",
            int(runtime.relay.is_leader),
        ),
    ):
        lines += [
            f"# HELP {name} {help_text}",
            f"# TYPE {name} gauge",
            f'{name}{{service="{service}"}} {value}',
        ]
    lines += await _table_sizes(service, runtime)
    return PlainTextResponse("\n".join(lines) + "\n", media_type=CONTENT_TYPE)


async def _table_sizes(service: str, runtime: Any) -> list[str]:
    # Estimates from the statistics PostgreSQL keeps anyway: a count(*) on every scrape would
    # read whole tables.
    rows = await runtime.pool.fetch(
        "SELECT c.relname AS name, coalesce(s.n_live_tup, greatest(c.reltuples, 0))::bigint AS rows,"
        " pg_total_relation_size(c.oid) AS bytes"
        " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid"
        " WHERE c.relkind IN ('r', 'p') AND n.nspname = current_schema()"
        " AND (c.relname = ANY($1::text[]) OR c.relname LIKE 'audit%')"
        " ORDER BY c.relname",
        list(SIZED_TABLES),
    )
    lines = [
        "# HELP samspil_table_rows_estimate Rows in an operational table (PostgreSQL's estimate).",
        "# TYPE samspil_table_rows_estimate gauge",
    ]
    lines += [
        f'samspil_table_rows_estimate{{service="{service}",table="{_escape(row["name"])}"}} {row["rows"]}'
        for row in rows
    ]
    lines += [
        "# HELP samspil_table_bytes Disk used by an operational table, its indexes and TOAST data.",
        "# TYPE samspil_table_bytes gauge",
    ]
    lines += [
        f'samspil_table_bytes{{service="{service}",table="{_escape(row["name"])}"}} {row["bytes"]}'
        for row in rows
    ]
    return lines
