"""Rate limits of the provider API, and whom to count a request against.

A token bucket per key (a provider, or a caller's address), in memory, per process. The number
of buckets is capped, so callers inventing addresses cannot grow it without bound: when the cap
is reached, the buckets that have refilled to full are forgotten (that changes no answer: a new
bucket starts full); a bucket still being refilled is never forgotten, so nobody can reset their
own by inventing addresses. While the limiter is full of such buckets, new keys share one
overflow bucket. An IPv6 caller is counted by its /64, the block one subscriber is given.

The address is the connecting peer's, unless that peer is a trusted reverse proxy: then it is
the right-most X-Forwarded-For entry that is not itself a trusted proxy, the last address a
trusted hop saw. Entries further left are whatever the caller chose to send.
"""

from __future__ import annotations

import functools
import ipaddress
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog

from samspil.runtime.http import Problem, problem_response

log = structlog.get_logger("provider_gateway.limits")

# The bucket new keys share while the limiter is full of buckets that are still refilling.
OVERFLOW = "(overflow)"
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass
class RateLimiter:
    """``rate`` requests a second per key, in bursts of up to ``burst``, for at most
    ``max_buckets`` keys at a time."""

    rate: float
    burst: float
    max_buckets: int = 10_000
    clock: Callable[[], float] = time.monotonic
    # key -> (tokens left, when last counted); least recently counted first.
    _buckets: OrderedDict[str, tuple[float, float]] = field(default_factory=OrderedDict)
    _next_sweep: float = float("-inf")

    def check(self, key: str) -> None:
        """Count one request against ``key``; 429 with Retry-After when its bucket is empty."""
        now = self.clock()
        if key not in self._buckets:
            self._make_room(now)
            if len(self._buckets) >= self.max_buckets:
                key = OVERFLOW
        if key in self._buckets:
            tokens, last = self._buckets.pop(key)
            tokens = min(self.burst, tokens + (now - last) * self.rate)
        else:
            tokens = self.burst
        if tokens < 1:
            self._buckets[key] = (tokens, now)
            retry_after = max(1, math.ceil((1 - tokens) / self.rate))
            raise Problem(429, "rate-limited", "Too many requests", headers={"Retry-After": str(retry_after)})
        self._buckets[key] = (tokens - 1, now)

    def __len__(self) -> int:
        return len(self._buckets)

    def _make_room(self, now: float) -> None:
        if len(self._buckets) < self.max_buckets or now < self._next_sweep:
            return
        # Only full buckets: forgetting them changes no answer. A sweep finds them all at once;
        # when it finds none, the next waits until any bucket could have refilled.
        full = [key for key, (tokens, last) in self._buckets.items() if self._full(tokens, last, now)]
        for key in full:
            del self._buckets[key]
        if not full:
            self._next_sweep = now + self.burst / self.rate / 10

    def _full(self, tokens: float, last: float, now: float) -> bool:
        return tokens + (now - last) * self.rate >= self.burst


# Parsing an address was most of what the address limit cost a request; a caller comes back
# from the same address, and both functions give the same answer for the same text.
@functools.lru_cache(maxsize=4096)
def _ip(text: str) -> IPAddress | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # [v6]:port
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # v4:port
        text = text.split(":")[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _trusted(address: IPAddress | None, proxies: Sequence[IPNetwork]) -> bool:
    return address is not None and any(address in network for network in proxies)


@functools.lru_cache(maxsize=4096)
def _counted(address: IPAddress | None, written: str) -> str:
    """What a caller is counted as: an IPv4 address, an IPv6 /64 (an IPv4-mapped IPv6 address
    as its IPv4 address), or, for a value that is no address, the text itself."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network(f"{address}/64", strict=False))
    return str(address) if address is not None else written[:64]


def client_address(scope: Any, trusted_proxies: Sequence[IPNetwork]) -> str:
    """The address to count a request against (see the module docstring)."""
    peer = scope["client"][0] if scope.get("client") else "unknown"
    if not trusted_proxies or not _trusted(_ip(peer), trusted_proxies):
        return _counted(_ip(peer), str(peer))
    forwarded = [
        entry.strip()
        for name, value in scope["headers"]
        if name == b"x-forwarded-for"
        for entry in value.decode("latin-1").split(",")
        if entry.strip()
    ]
    for entry in reversed(forwarded):
        address = _ip(entry)
        if not _trusted(address, trusted_proxies):
            # The hop a trusted proxy saw. Not an address at all if that proxy wrote nonsense:
            # then count against the text, still one bucket per distinct value it wrote.
            return _counted(address, entry)
    return _counted(_ip(forwarded[0]), forwarded[0]) if forwarded else _counted(_ip(peer), peer)


class AddressLimit:
    """A ceiling per caller's address on every request to the provider API and portal (ASGI), answered
    before the audit trail and anything else: whatever a caller sends (no token, a revoked one,
    paths that do not exist, bodies refused for their size or type), it costs at most this many
    audit rows and database round trips a second. Providers' own limits are lower; this one
    only stops floods. A refusal here is logged once a minute per address, not audited."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self._last_logged: OrderedDict[str, float] = OrderedDict()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(("/v1/", "/oauth/", "/portal/")):
            await self.app(scope, receive, send)
            return
        state = scope["app"].state
        address = client_address(scope, state.settings.trusted_proxies)
        try:
            state.address_limiter.check(address)
        except Problem as refused:
            self._log_now_and_then(address)
            await problem_response(refused.status, refused.kind, refused.title, headers=refused.headers)(
                scope, receive, send
            )
            return
        await self.app(scope, receive, send)

    def _log_now_and_then(self, address: str) -> None:
        now = time.monotonic()
        if now - self._last_logged.get(address, -math.inf) < 60:
            return
        self._last_logged[address] = now
        self._last_logged.move_to_end(address)
        while len(self._last_logged) > 1000:
            self._last_logged.popitem(last=False)
        log.warning("address over its flood limit; further refusals this minute not logged", address=address)
