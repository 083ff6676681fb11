"""Sends one webhook attempt over HTTP: resolves the endpoint's host, checks every address it
resolves to (`domain.webhooks.check_addresses`) and connects to the address it checked, with the
host's name for TLS (SNI and certificate) and the Host header, so a name that resolves anew in
between (DNS rebinding) reaches nothing it was not checked for. Redirects are not followed.

No connection is kept alive: the client would pool it by its origin, the checked address, so a
connection whose certificate was verified for one host would carry the next delivery to another
host on the same address unverified. Only the answer's status is read: the body is never read
(nor inflated: ``accept-encoding: identity``), the connection is closed once the status is in.

Names are resolved on a small executor of the sender's own, never the loop's default one (which
the token endpoint's password hashing and the database's lookups need). A lookup runs only once
it holds a slot: one of the executor's threads, and the slot of its owner (the provider, else the
host), so one provider's names hold at most one thread at a time and its slow names cannot keep
another provider's lookups waiting. `RESOLVE_TIMEOUT` bounds the lookup itself; a slot is given
back when the lookup's thread is free again (a getaddrinfo outlives the timeout). A lookup that
gets no slot within `RESOLVER_WAIT` raises `ResolverBusy`: no verdict on the name (a delivery is
tried again later without counting as the endpoint's failure; a registration is asked to retry)."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx

from provider_gateway.domain.webhooks import RefusedUrl, Target, check_addresses, target_of

MAX_ERROR_LENGTH = 300
RESOLVE_TIMEOUT = 5.0
RESOLVER_WAIT = 10.0
RESOLVER_THREADS = 4
_resolver = ThreadPoolExecutor(max_workers=RESOLVER_THREADS, thread_name_prefix="webhook-dns")


class ResolverBusy(Exception):
    """No resolver thread was free for the lookup in time: nothing is known about the name."""


class _Slots:
    """At most `RESOLVER_THREADS` lookups at once, and one per owner; the waiters are served in
    order, each as soon as a thread and its owner's slot are free. Given back from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._busy: set[str] = set()
        self._waiting: list[tuple[str, asyncio.AbstractEventLoop, asyncio.Future[None]]] = []

    def _free(self, owner: str) -> bool:
        return owner not in self._busy and len(self._busy) < RESOLVER_THREADS

    async def take(self, owner: str, wait: float) -> None:
        loop = asyncio.get_running_loop()
        with self._lock:
            if self._free(owner) and not any(key == owner for key, _, _ in self._waiting):
                self._busy.add(owner)
                return
            granted: asyncio.Future[None] = loop.create_future()
            waiter = (owner, loop, granted)
            self._waiting.append(waiter)
        try:
            async with asyncio.timeout(wait):
                await asyncio.shield(granted)
        except TimeoutError:
            with self._lock:
                if waiter in self._waiting:
                    self._waiting.remove(waiter)
                    raise ResolverBusy from None
            return  # granted just as the time ran out: the slot is the caller's
        except asyncio.CancelledError:
            with self._lock:
                if waiter in self._waiting:
                    self._waiting.remove(waiter)
                    raise
            self.give_back(owner)
            raise

    def give_back(self, owner: str) -> None:
        with self._lock:
            self._busy.discard(owner)
            for waiter in list(self._waiting):
                key, loop, granted = waiter
                if self._free(key):
                    self._waiting.remove(waiter)
                    self._busy.add(key)
                    loop.call_soon_threadsafe(_grant, granted)


def _grant(granted: asyncio.Future[None]) -> None:
    if not granted.done():
        granted.set_result(None)


_slots = _Slots()


async def resolve(host: str, port: int, *, owner: str | None = None, wait: float | None = None) -> list[str]:
    """Every address the host resolves to (an address resolves to itself); [] when it resolves
    to none in time. `ResolverBusy` when no thread was free for the lookup within ``wait``
    (`RESOLVER_WAIT` unless given; see the docstring)."""
    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:
        pass
    key = f"owner:{owner}" if owner is not None else f"host:{host.rstrip('.').lower()}"
    await _slots.take(key, RESOLVER_WAIT if wait is None else min(wait, RESOLVER_WAIT))
    try:
        running = _resolver.submit(_addresses, host, port)
    except BaseException:
        _slots.give_back(key)
        raise
    # Given back by the lookup's thread itself: also when this loop is gone by then.
    running.add_done_callback(lambda _: _slots.give_back(key))
    lookup = asyncio.wrap_future(running)
    lookup.add_done_callback(_retrieved)  # a lookup given up on fails unheard
    try:
        async with asyncio.timeout(RESOLVE_TIMEOUT):
            addresses = await asyncio.shield(lookup)
    except (OSError, ValueError, TimeoutError):  # ValueError: not a name (too long a label, a NUL)
        return []
    return list(dict.fromkeys(addresses))


def _retrieved(lookup: asyncio.Future[list[str]]) -> None:
    if not lookup.cancelled():
        lookup.exception()


def _addresses(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


async def checked_target(
    url: str, *, local_mode: bool, owner: str | None = None, wait: float | None = None
) -> tuple[Target, str]:
    """The URL's parts and the address to connect to; `RefusedUrl` saying why not, `ResolverBusy`
    when the name could not be looked up now."""
    target = target_of(url, local_mode=local_mode)
    addresses = await resolve(target.host, target.port, owner=owner, wait=wait)
    address = check_addresses(target.host, addresses, local_mode=local_mode)
    return target, address


@dataclass(frozen=True)
class Outcome:
    delivered: bool
    status_code: int | None
    error: str | None  # why it failed, for the provider: never a secret nor the body
    address: str | None = None  # the address connected to (the one checked), when it got that far
    postponed: bool = False  # not attempted (no resolver thread free): not the endpoint's failure


class WebhookSender:
    def __init__(self, *, timeout: float, local_mode: bool) -> None:
        self.timeout = timeout
        self.local_mode = local_mode
        self.client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout),
            follow_redirects=False,
            trust_env=False,
            limits=httpx.Limits(max_keepalive_connections=0),
        )

    async def close(self) -> None:
        await self.client.aclose()

    async def send(
        self, url: str, headers: dict[str, str], body: bytes, *, owner: str | None = None
    ) -> Outcome:
        """One attempt; ``owner`` (the provider) shares its resolver slot (see the docstring)."""
        address: str | None = None
        try:
            async with asyncio.timeout(self.timeout):
                # Half the attempt's time at most waiting for a resolver thread: a delivery that
                # gets none is postponed (ResolverBusy), not timed out as the endpoint's failure.
                target, address = await checked_target(
                    url, local_mode=self.local_mode, owner=owner, wait=self.timeout / 2
                )
                host = f"[{address}]" if ":" in address else address
                default_port = 443 if target.scheme == "https" else 80
                name = target.host if target.port == default_port else f"{target.host}:{target.port}"
                request = self.client.build_request(
                    "POST",
                    f"{target.scheme}://{host}:{target.port}{target.path}",
                    content=body,
                    # connection: close also for a client set up otherwise (see the docstring).
                    headers={**headers, "host": name, "accept-encoding": "identity", "connection": "close"},
                    extensions={"sni_hostname": target.host} if target.scheme == "https" else {},
                )
                response = await self.client.send(request, stream=True)
                status_code = response.status_code
                await response.aclose()  # the body unread: closes the connection
        except RefusedUrl as refused:
            return Outcome(False, None, f"refused: the URL {refused}")
        except ResolverBusy:
            return Outcome(False, None, "the name could not be looked up now", postponed=True)
        except (TimeoutError, httpx.TimeoutException):
            return Outcome(False, None, f"no answer within {self.timeout:g} seconds", address)
        except (httpx.HTTPError, httpx.InvalidURL, ValueError) as error:
            return Outcome(False, None, f"{type(error).__name__}: {str(error)[:MAX_ERROR_LENGTH]}", address)
        if 200 <= status_code < 300:
            return Outcome(True, status_code, None, address)
        return Outcome(False, status_code, f"answered HTTP {status_code}", address)
