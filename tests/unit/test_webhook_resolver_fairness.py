"""The webhook resolver: one provider's slow names cannot get another's good name refused."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest

from provider_gateway.adapters import webhook_sender


async def test_one_providers_slow_names_do_not_get_another_providers_good_name_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """fix2 moved lookups to a private pool of RESOLVER_THREADS (4) threads shared by the API's
    check_url (register, PATCH) and every delivery attempt of every provider. A provider with a
    few endpoints on names its own DNS answers slowly (each getaddrinfo blocks a thread for the
    resolver's full timeout, long after resolve() gave up) keeps all 4 threads busy; another
    provider's name then waits for a thread past RESOLVE_TIMEOUT, resolve() returns [], and its
    registration is refused (422) and its deliveries fail -- after a day its endpoint is disabled.
    The timeout should bound the lookup, not the wait in the queue behind strangers' lookups (e.g.
    per-host/per-provider limits, or an async resolver)."""

    def getaddrinfo(host: str, port: object, *args: object, **kwargs: object) -> list[object]:
        if host.startswith("slow"):
            time.sleep(1.0)  # the attacker's name server answering late
            raise socket.gaierror("timed out")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", 443))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(webhook_sender, "RESOLVE_TIMEOUT", 0.3)

    slow = [
        asyncio.ensure_future(webhook_sender.resolve(f"slow{n}.attacker.example", 443))
        for n in range(webhook_sender.RESOLVER_THREADS)
    ]
    await asyncio.sleep(0.05)  # the attacker's lookups hold every resolver thread
    good = await webhook_sender.resolve("hooks.honest-provider.example", 443)
    await asyncio.gather(*slow)
    await asyncio.sleep(1.0)  # let the stuck threads finish before the next test

    assert good == ["93.184.216.34"], "a good name was treated as unresolvable behind another's slow ones"
