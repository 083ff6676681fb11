"""The webhook sender's guarantees tested against a real TLS server on loopback.

Each test states what the sender promises (webhook_sender's docstring: TLS for the host's name
on the checked address; the domain's: only global addresses) and fails where it does not hold."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import ssl
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from provider_gateway.adapters import webhook_sender
from provider_gateway.adapters.webhook_sender import WebhookSender
from provider_gateway.domain.webhooks import check_addresses, refused_address


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _certificates(folder: Path, host: str) -> tuple[Path, Path, Path]:
    """A CA, and a server certificate signed by it for ``host`` only."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("review CA"))
        .issuer_name(_name("review CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(host))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_path, cert_path, key_path = folder / "ca.pem", folder / "cert.pem", folder / "key.pem"
    ca_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return ca_path, cert_path, key_path


class _Server:
    """HTTP/1.1 with keep-alive over TLS (or plain), answering every request with ``answer``."""

    def __init__(self, answer: bytes, body_chunks: int = 0, chunk: bytes = b"") -> None:
        self.answer, self.body_chunks, self.chunk = answer, body_chunks, chunk
        self.requests: list[bytes] = []
        self.body_bytes_sent = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                await reader.readexactly(length)
                self.requests.append(head)
                writer.write(self.answer)
                for _ in range(self.body_chunks):
                    writer.write(self.chunk)
                    await writer.drain()
                    self.body_bytes_sent += len(self.chunk)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError, asyncio.CancelledError):
            pass
        finally:
            writer.close()


@asynccontextmanager
async def _serving(server: _Server, context: ssl.SSLContext | None) -> AsyncIterator[int]:
    listening = await asyncio.start_server(server.handle, "127.0.0.1", 0, ssl=context)
    port = listening.sockets[0].getsockname()[1]
    try:
        yield port
    finally:
        listening.close()


def _sender_trusting(ca: Path, timeout: float = 5.0) -> WebhookSender:
    """The production sender, with the test CA as its only trust anchor (the production client
    trusts certifi's; nothing else about it changes)."""
    sender = WebhookSender(timeout=timeout, local_mode=True)  # local mode: loopback allowed
    verify = ssl.create_default_context(cafile=str(ca))
    sender.client = httpx.AsyncClient(
        timeout=httpx.Timeout(timeout), follow_redirects=False, trust_env=False, verify=verify
    )
    return sender


NO_CONTENT = b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n"


async def test_a_host_whose_certificate_does_not_match_is_refused_even_after_another_host_on_its_address(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two endpoints whose names resolve to one address (a shared load balancer, or a name an
    attacker points there by DNS): the server's certificate is valid for hooks-a only. A delivery to
    hooks-b must fail TLS verification. The client pools connections by the URL's origin, which is
    the pinned IP, not the SNI name: the second delivery reuses the connection verified for
    hooks-a and is sent, body and signature, to a server never authenticated as hooks-b."""

    async def both_on_loopback(host: str, port: int, **_: object) -> list[str]:
        return ["127.0.0.1"]

    monkeypatch.setattr(webhook_sender, "resolve", both_on_loopback)
    with tempfile.TemporaryDirectory() as folder:
        ca, cert, key = _certificates(Path(folder), "hooks-a.example")
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
        server = _Server(NO_CONTENT)
        async with _serving(server, context) as port:
            # Control: a fresh sender refuses hooks-b (the certificate names hooks-a only).
            fresh = _sender_trusting(ca)
            alone = await fresh.send(f"https://hooks-b.example:{port}/b", {}, b"{}")
            await fresh.close()
            assert not alone.delivered, "the control: hooks-b's certificate check must fail"

            sender = _sender_trusting(ca)
            first = await sender.send(f"https://hooks-a.example:{port}/a", {}, b"{}")
            assert first.delivered
            second = await sender.send(f"https://hooks-b.example:{port}/b", {}, b'{"for":"b"}')
            await sender.close()

    assert not second.delivered, (
        "hooks-b was delivered over a connection whose certificate names only hooks-a "
        f"({len(server.requests)} requests reached the server)"
    )


async def test_the_sender_reads_no_more_of_an_answer_than_it_needs() -> None:
    """A receiver (any provider's endpoint) answers 200 with a 64 MiB body; the sender only needs
    the status. httpx's post() reads the whole body into memory (and would inflate a gzip one:
    64 KiB on the wire can be 64 MiB in memory), on every attempt, for every delivery in a batch
    at once, so a hostile endpoint can exhaust the gateway's memory within the attempt timeout."""
    size = 64 * 1024 * 1024
    chunk = b"x" * (1024 * 1024)
    answer = f"HTTP/1.1 200 OK\r\ncontent-length: {size}\r\n\r\n".encode()
    server = _Server(answer, body_chunks=size // len(chunk), chunk=chunk)
    async with _serving(server, None) as port:
        sender = WebhookSender(timeout=10.0, local_mode=True)
        outcome = await sender.send(f"http://127.0.0.1:{port}/hooks", {}, b"{}")
        await sender.close()
    assert outcome.status_code == 200
    assert server.body_bytes_sent <= 8 * 1024 * 1024, (
        f"the sender read {server.body_bytes_sent // (1024 * 1024)} MiB of the receiver's answer"
    )


@pytest.mark.parametrize(
    "address",
    [
        "64:ff9b::a00:1",  # NAT64 well-known prefix (RFC 6052) embedding 10.0.0.1
        "64:ff9b::a9fe:a9fe",  # ... embedding 169.254.169.254 (cloud metadata)
        "64:ff9b:1::a00:1",  # NAT64 local-use prefix (RFC 8215): never global
        "2002:a00:1::1",  # 6to4 embedding 10.0.0.1
        "::ffff:0:a00:1",  # IPv4-translated (SIIT, RFC 2765) 10.0.0.1
    ],
)
def test_an_ipv6_address_that_embeds_an_internal_ipv4_address_is_refused(address: str) -> None:
    """On an IPv6-only network with DNS64/NAT64 (e.g. an IPv6-only Kubernetes cluster, an AWS
    IPv6-only subnet whose NAT gateway translates 64:ff9b::/96 to VPC addresses), a name whose
    AAAA record is 64:ff9b::<internal IPv4> reaches the internal address. Python 3.11's
    ipaddress calls these global."""
    assert refused_address(address) is not None, f"{address} is allowed as a webhook address"


def test_a_refused_url_does_not_tell_the_provider_what_an_internal_name_resolves_to() -> None:
    """The 422 (and a delivery's last_error) quote the address: a provider can map the gateway's
    internal DNS (postgres.samspil.svc.cluster.local -> 10.x) by registering names."""
    with pytest.raises(ValueError) as refused:
        check_addresses("postgres.samspil.svc.cluster.local", ["10.96.4.17"], local_mode=False)
    assert "10.96.4.17" not in str(refused.value)
    assert ipaddress.ip_address("10.96.4.17").is_private


async def test_a_name_that_resolves_slowly_does_not_hold_the_threads_the_gateway_needs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """resolve() bounds its wait with asyncio.timeout, but loop.getaddrinfo runs socket.getaddrinfo
    in the loop's default executor (min(32, cores + 4) threads: 6 on two cores), and a timed-out
    await does not stop the thread. A provider registers (or PATCHes) endpoints on names served by
    its own slow authoritative DNS: each lookup holds an executor thread for the resolver's whole
    timeout (5 s x attempts x servers), long after the 422. The same executor runs scrypt for
    the token endpoint (asyncio.to_thread) and the lookups of new database connections, so a
    handful of requests a second stalls token issuance for every provider."""
    import socket
    import threading
    import time

    looked_up_on: set[str] = set()

    def slow_getaddrinfo(host: str, *args: object, **kwargs: object) -> list[object]:
        looked_up_on.add(threading.current_thread().name)
        time.sleep(2.0)  # the attacker's name server answering late
        raise socket.gaierror("timed out")

    monkeypatch.setattr(socket, "getaddrinfo", slow_getaddrinfo)
    monkeypatch.setattr(webhook_sender, "RESOLVE_TIMEOUT", 0.1)
    monkeypatch.setattr(webhook_sender, "RESOLVER_WAIT", 0.1)
    refused = await asyncio.gather(
        *(
            webhook_sender.checked_target(f"https://slow{n}.attacker.example/", local_mode=False)
            for n in range(40)
        ),
        return_exceptions=True,
    )
    # Refused within the bound, or (no thread free for it) told to try again: never resolved.
    assert all(isinstance(outcome, ValueError | webhook_sender.ResolverBusy) for outcome in refused)
    # Without a clock: every lookup ran on the resolver's own few threads, none on the default
    # executor's, and the lookups that found no free thread in time never ran.
    assert looked_up_on and all(name.startswith("webhook-dns") for name in looked_up_on), looked_up_on
    assert len(looked_up_on) <= webhook_sender.RESOLVER_THREADS
