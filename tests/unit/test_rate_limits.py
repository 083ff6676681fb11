"""The provider API's rate limiter stays within its memory bound, and counts a request against
the address it really came from."""

from __future__ import annotations

import contextlib
import ipaddress
import random
from typing import Any

import pytest

from provider_gateway.entrypoints.limits import RateLimiter, client_address
from provider_gateway.settings import GatewaySettings
from samspil.runtime.http import Problem


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def limiter(rate: float = 1.0, burst: int = 3, max_buckets: int = 100) -> tuple[RateLimiter, Clock]:
    clock = Clock()
    return RateLimiter(rate=rate, burst=burst, max_buckets=max_buckets, clock=clock), clock


def test_a_key_gets_its_burst_then_429_with_retry_after_then_refills() -> None:
    limits, clock = limiter(rate=0.5, burst=3)
    for _ in range(3):
        limits.check("p1")
    with pytest.raises(Problem) as refused:
        limits.check("p1")
    assert refused.value.status == 429 and refused.value.headers == {"Retry-After": "2"}
    limits.check("p2")  # another key has its own bucket
    clock.now += 2
    limits.check("p1")
    with pytest.raises(Problem):
        limits.check("p1")


def test_random_addresses_never_grow_the_limiter_past_its_cap() -> None:
    limits, clock = limiter(max_buckets=1000)
    rng = random.Random(10)
    for _ in range(50_000):
        with contextlib.suppress(Problem):  # newcomers share the overflow bucket once it is full
            limits.check(f"no-token:{ipaddress.IPv4Address(rng.getrandbits(32))}")
        clock.now += 0.0001
        assert len(limits) <= 1000 + 1  # the cap, and the overflow bucket


def test_full_buckets_are_forgotten_before_any_partly_used_one() -> None:
    limits, clock = limiter(rate=1.0, burst=3, max_buckets=4)
    for _ in range(3):
        limits.check("busy")  # empty; idle longest of all from here on
    limits.check("idle")  # 2 left: full again a second later
    clock.now += 1.5  # busy has 1.5 now, idle is full
    for key in ("x", "y"):
        for _ in range(3):
            limits.check(key)
    limits.check("newcomer")  # at the cap: the full bucket goes, though busy was idle longer
    assert len(limits) == 4
    limits.check("busy")  # 1.5 -> 0.5: remembered, not a fresh bucket of 3
    with pytest.raises(Problem):
        limits.check("busy")


def test_a_throttled_caller_cannot_reset_its_bucket_by_filling_the_limiter() -> None:
    limits, clock = limiter(rate=0.001, burst=2, max_buckets=10)
    for _ in range(2):
        limits.check("198.51.100.7")  # empty now
    for index in range(10_000):  # a flood of new addresses, none of which refills
        with contextlib.suppress(Problem):
            limits.check(f"203.0.113.{index}")
        clock.now += 0.001
    assert len(limits) <= 11  # the cap, and one overflow bucket the newcomers share
    with pytest.raises(Problem):
        limits.check("198.51.100.7")  # still remembered, still empty
    with pytest.raises(Problem):
        limits.check("192.0.2.99")  # a newcomer counts against the emptied overflow bucket


def test_an_ipv6_caller_is_counted_by_its_slash_64() -> None:
    counted = {
        client_address({"client": (f"2001:db8:1:2::{index:x}", 1), "headers": []}, [])
        for index in range(1000)
    }
    assert counted == {"2001:db8:1:2::/64"}
    assert client_address({"client": ("::ffff:198.51.100.7", 1), "headers": []}, []) == "198.51.100.7"


def scope(peer: str, *forwarded: str) -> dict[str, Any]:
    return {
        "client": (peer, 50000),
        "headers": [(b"x-forwarded-for", value.encode()) for value in forwarded],
    }


PROXIES = [ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("2001:db8::1/128")]


@pytest.mark.parametrize(
    ("request_scope", "proxies", "address"),
    [
        # No trusted proxies: the peer, whatever it claims.
        (scope("203.0.113.9", "198.51.100.1"), [], "203.0.113.9"),
        # An untrusted peer's X-Forwarded-For is ignored.
        (scope("203.0.113.9", "198.51.100.1"), PROXIES, "203.0.113.9"),
        # A trusted proxy: the right-most entry that is not a trusted proxy.
        (scope("10.0.0.2", "1.1.1.1, 198.51.100.1"), PROXIES, "198.51.100.1"),
        (scope("10.0.0.2", "1.1.1.1, 198.51.100.1, 10.0.0.3"), PROXIES, "198.51.100.1"),
        (scope("10.0.0.2", "1.1.1.1", "198.51.100.1, 10.0.0.3"), PROXIES, "198.51.100.1"),
        (scope("2001:db8::1", "[2001:db8::7]:443"), PROXIES, "2001:db8::/64"),
        (scope("10.0.0.2", "198.51.100.1:8443"), PROXIES, "198.51.100.1"),
        # A trusted proxy sending no header: the proxy itself.
        (scope("10.0.0.2"), PROXIES, "10.0.0.2"),
        # Every hop trusted: the furthest one.
        (scope("10.0.0.2", "10.0.0.5, 10.0.0.4"), PROXIES, "10.0.0.5"),
    ],
)
def test_the_client_address_is_the_peer_unless_a_trusted_proxy_forwarded_it(
    request_scope: dict[str, Any], proxies: list[Any], address: str
) -> None:
    assert client_address(request_scope, proxies) == address


def test_trusted_proxies_are_read_as_a_comma_separated_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROVIDER_GATEWAY_TRUSTED_PROXIES", "10.0.0.0/8, 192.0.2.7,2001:db8::/32")
    settings = GatewaySettings(
        database_url="postgresql://x/y", token_secret="s" * 32, dead_letter_key="d" * 32
    )
    assert [str(network) for network in settings.trusted_proxies] == [
        "10.0.0.0/8",
        "192.0.2.7/32",
        "2001:db8::/32",
    ]
    monkeypatch.delenv("PROVIDER_GATEWAY_TRUSTED_PROXIES")
    settings = GatewaySettings(
        database_url="postgresql://x/y", token_secret="s" * 32, dead_letter_key="d" * 32
    )
    assert settings.trusted_proxies == []


def test_a_flood_from_one_address_is_refused_before_the_audit_trail_sees_it() -> None:
    from types import SimpleNamespace

    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route
    from starlette.testclient import TestClient

    from provider_gateway.entrypoints.limits import AddressLimit

    reached: list[str] = []

    async def anything(request: Any) -> PlainTextResponse:
        reached.append(request.url.path)  # what the audit trail and the routes would see
        return PlainTextResponse("not here", status_code=404)

    app = Starlette(routes=[Route("/{path:path}", anything, methods=["GET", "POST"])])
    app.state.settings = SimpleNamespace(trusted_proxies=[])
    app.state.address_limiter = RateLimiter(rate=0.001, burst=50)
    app.add_middleware(AddressLimit)
    client = TestClient(app)
    statuses = [client.get("/v1/nothing-here").status_code for _ in range(300)]
    assert statuses.count(404) == 50 and statuses.count(429) == 250
    assert len(reached) == 50
    assert client.get("/readyz").status_code == 404  # outside the provider API: not limited
