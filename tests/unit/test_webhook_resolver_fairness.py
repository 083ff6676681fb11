"""The webhook resolver: one provider's slow names cannot get another's good name refused."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest

from provider_gateway.adapters import webhook_sender
from tests.support import wait_for


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


async def test_one_provider_holds_one_resolver_thread_and_a_lookup_without_one_is_not_a_refusal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A provider's names are looked up one at a time: while its slow name holds a thread, its
    next lookups wait and another provider's name is looked up at once. A lookup that finds no
    thread within RESOLVER_WAIT raises ResolverBusy (a delivery is postponed, not failed)."""
    import threading

    answer = threading.Event()
    running: dict[str, int] = {}
    most: dict[str, int] = {}
    lock = threading.Lock()

    def getaddrinfo(host: str, port: object, *args: object, **kwargs: object) -> list[object]:
        owner = host.split(".")[1]
        with lock:
            running[owner] = running.get(owner, 0) + 1
            most[owner] = max(most.get(owner, 0), running[owner])
        try:
            if host.startswith("slow"):
                answer.wait()  # its name server answers only when the test says so
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", 443))]
        finally:
            with lock:
                running[owner] -= 1

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(webhook_sender, "RESOLVE_TIMEOUT", 0.1)
    monkeypatch.setattr(webhook_sender, "RESOLVER_WAIT", 0.2)
    try:
        mine = [
            asyncio.ensure_future(webhook_sender.resolve(f"slow{n}.attacker.example", 443, owner="attacker"))
            for n in range(3)
        ]
        theirs = await webhook_sender.resolve("hooks.honest.example", 443, owner="honest")
        outcomes = await asyncio.gather(*mine, return_exceptions=True)
        sender = webhook_sender.WebhookSender(timeout=5.0, local_mode=False)
        try:
            postponed = await sender.send("https://slow9.attacker.example/", {}, b"{}", owner="attacker")
        finally:
            await sender.close()
    finally:
        answer.set()

    async def idle() -> bool:
        return not any(running.values())

    await wait_for(idle, interval=0.01)  # the stuck lookups end before the next test

    assert theirs == ["93.184.216.34"]
    assert most["attacker"] == 1, "one provider's lookups ran on more than one thread at once"
    assert outcomes[0] == []  # its own slow name: no answer in time, refused
    assert all(isinstance(outcome, webhook_sender.ResolverBusy) for outcome in outcomes[1:])
    assert postponed.postponed and not postponed.delivered
