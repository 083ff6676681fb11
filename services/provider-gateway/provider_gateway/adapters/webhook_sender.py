"""Sends one webhook attempt over HTTP: resolves the endpoint's host, checks every address it
resolves to (`domain.webhooks.check_addresses`) and connects to the address it checked, with the
host's name for TLS (SNI and certificate) and the Host header, so a name that resolves anew in
between (DNS rebinding) reaches nothing it was not checked for. Redirects are not followed.

No connection is kept alive: the client would pool it by its origin, the checked address, so a
connection whose certificate was verified for one host would carry the next delivery to another
host on the same address unverified. Only the answer's status is read: the body is never read
(nor inflated: ``accept-encoding: identity``), the connection is closed once the status is in.

Names are resolved on a small executor of the sender's own, never the loop's default one (which
the token endpoint's password hashing and the database's lookups need): a name served slowly
holds at most those few threads, and a lookup still waiting for one when its time is up is
dropped without ever running."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx

from provider_gateway.domain.webhooks import RefusedUrl, Target, check_addresses, target_of

MAX_ERROR_LENGTH = 300
RESOLVE_TIMEOUT = 5.0
RESOLVER_THREADS = 4
_resolver = ThreadPoolExecutor(max_workers=RESOLVER_THREADS, thread_name_prefix="webhook-dns")


async def resolve(host: str, port: int) -> list[str]:
    """Every address the host resolves to (an address resolves to itself)."""
    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:
        pass
    try:
        async with asyncio.timeout(RESOLVE_TIMEOUT):
            addresses = await asyncio.get_running_loop().run_in_executor(_resolver, _addresses, host, port)
    except (OSError, ValueError, TimeoutError):  # ValueError: not a name (too long a label, a NUL)
        return []
    return list(dict.fromkeys(addresses))


def _addresses(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


async def checked_target(url: str, *, local_mode: bool) -> tuple[Target, str]:
    """The URL's parts and the address to connect to; `RefusedUrl` saying why not."""
    target = target_of(url, local_mode=local_mode)
    address = check_addresses(target.host, await resolve(target.host, target.port), local_mode=local_mode)
    return target, address


@dataclass(frozen=True)
class Outcome:
    delivered: bool
    status_code: int | None
    error: str | None  # why it failed, for the provider: never a secret nor the body
    address: str | None = None  # the address connected to (the one checked), when it got that far


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

    async def send(self, url: str, headers: dict[str, str], body: bytes) -> Outcome:
        address: str | None = None
        try:
            async with asyncio.timeout(self.timeout):
                target, address = await checked_target(url, local_mode=self.local_mode)
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
        except (TimeoutError, httpx.TimeoutException):
            return Outcome(False, None, f"no answer within {self.timeout:g} seconds", address)
        except (httpx.HTTPError, httpx.InvalidURL, ValueError) as error:
            return Outcome(False, None, f"{type(error).__name__}: {str(error)[:MAX_ERROR_LENGTH]}", address)
        if 200 <= status_code < 300:
            return Outcome(True, status_code, None, address)
        return Outcome(False, status_code, f"answered HTTP {status_code}", address)
