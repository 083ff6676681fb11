"""Webhooks: the provider's feed pushed to its HTTPS endpoints; plain Python, no I/O.

Each delivery is a CloudEvent in structured mode (``application/cloudevents+json``), signed as
the Standard Webhooks specification says: ``webhook-id`` (the event's id, the same on every
attempt and redelivery, so a receiver can drop a repeat), ``webhook-timestamp`` (Unix seconds of
the attempt) and ``webhook-signature`` (``v1,`` and the base64 HMAC-SHA256 of
``"{id}.{timestamp}.{body}"`` keyed with the endpoint's secret). The secret is ``whsec_`` and
the base64 of 32 random bytes, shown to the provider once; the gateway keeps it sealed
(AES-GCM, bound to the endpoint's id) since it must sign with it again.

An endpoint is never an address inside the gateway's own network: every address its host
resolves to must be a global one (not loopback, link-local, private, shared, multicast or
reserved; an IPv6 address that carries an IPv4 one, NAT64 or 6to4, is judged by that one), at
registration and again at each delivery, which then goes to the address checked
(a name that resolves anew to a private address between the check and the request gains
nothing). A refusal never says what a name resolved to. Local mode (the local stack, tests)
allows any address and plain http.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

SECRET_PREFIX = "whsec_"  # noqa: S105 - the Standard Webhooks prefix, not a secret
SOURCE = "/samspil/provider-gateway"


class FeedKind(StrEnum):
    """The kinds of the provider's feed entries (`provider_feed.kind`): what an endpoint may ask
    for. Each is sent as the CloudEvent type ``dk.samspil.provider.feed.<kind>.v1``."""

    REFERRAL_REQUESTED = "referral-requested"
    REFERRAL_CANCELLED = "referral-cancelled"
    SUBMISSION_ACKNOWLEDGED = "submission-acknowledged"
    SUBMISSION_DECIDED = "submission-decided"
    SUBMISSION_FINAL = "submission-final"
    PROGRESS_REPORT_DUE = "progress-report-due"
    PROGRESS_REPORT_OVERDUE = "progress-report-overdue"


CONTENT_TYPE = "application/cloudevents+json"
MAX_URL_LENGTH = 2000


def event_type(kind: str) -> str:
    return f"dk.samspil.provider.feed.{kind}.v1"


# --- secrets --------------------------------------------------------------------------------


def new_signing_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def _secret_bytes(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header's value for one attempt."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(_secret_bytes(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


class SecretBox:
    """Seals the endpoints' signing secrets for the database and opens them to sign. The key is
    the gateway's webhook secret key, or derived from its token secret when none is set."""

    def __init__(self, key_material: str) -> None:
        key = HKDF(algorithm=SHA256(), length=32, salt=None, info=b"samspil webhook secrets").derive(
            key_material.encode()
        )
        self._aead = AESGCM(key)

    def seal(self, endpoint_id: uuid.UUID, secret: str) -> bytes:
        nonce = secrets.token_bytes(12)
        return nonce + self._aead.encrypt(nonce, secret.encode(), endpoint_id.bytes)

    def open(self, endpoint_id: uuid.UUID, sealed: bytes) -> str:
        return self._aead.decrypt(sealed[:12], sealed[12:], endpoint_id.bytes).decode()


# --- where a delivery may go ----------------------------------------------------------------


class RefusedUrl(ValueError):
    """Not an address the gateway delivers to; the message says why (never with a secret)."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str  # with its query


def target_of(url: str, *, local_mode: bool) -> Target:
    """The parts of an endpoint's URL, or `RefusedUrl`: https only (http too in local mode), a
    host name or address, no user name or password, no fragment."""
    if len(url) > MAX_URL_LENGTH:
        raise RefusedUrl(f"must be at most {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise RefusedUrl("is not a URL") from None
    allowed = ("https", "http") if local_mode else ("https",)
    if parts.scheme not in allowed:
        raise RefusedUrl("must be an https URL")
    if not parts.hostname:
        raise RefusedUrl("must name a host")
    if parts.username is not None or parts.password is not None:
        raise RefusedUrl("must not hold a user name or password")
    if parts.fragment:
        raise RefusedUrl("must not have a fragment")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80), path)


# IPv6 prefixes that carry an IPv4 address a gateway on an IPv6-only network may reach through
# a translator (NAT64, 6to4, SIIT), or that are never a public host: Python's ipaddress calls some
# of them global. One that embeds an IPv4 address is judged by that address.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # RFC 6052: the embedded IPv4 address decides
_NEVER_PUBLIC_V6 = (
    ipaddress.IPv6Network("64:ff9b:1::/48"),  # RFC 8215: local-use NAT64, never global
    ipaddress.IPv6Network("::ffff:0:0:0/96"),  # RFC 2765: IPv4-translated (SIIT)
    ipaddress.IPv6Network("::/96"),  # IPv4-compatible (deprecated)
    ipaddress.IPv6Network("2001::/32"),  # Teredo
)


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip.sixtofour  # 2002::/16


def refused_address(address: str) -> str | None:
    """Why the gateway must not connect to this address, or None for a global one."""
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and not ip.is_loopback and not ip.is_unspecified:
        if any(ip in network for network in _NEVER_PUBLIC_V6):
            return "not a public address"
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            ip = embedded
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_private:
        return "a private address"
    if not ip.is_global or ip.is_multicast:
        return "not a public address"
    return None


NON_PUBLIC = "resolves to a non-public address"


def check_addresses(host: str, addresses: list[str], *, local_mode: bool) -> str:
    """The address to connect to: the first the host resolved to, once every one is allowed;
    `RefusedUrl` otherwise, never quoting the address (nor what kind it is): a provider must not
    learn what the gateway's internal names resolve to."""
    if not addresses:
        raise RefusedUrl(f"host {host} does not resolve")
    if not local_mode:
        for address in addresses:
            if refused_address(address) is not None:
                raise RefusedUrl(f"host {host} {NON_PUBLIC}")
    return addresses[0]


# --- when to try again ----------------------------------------------------------------------


@dataclass(frozen=True)
class RetryRule:
    """A failed attempt is tried again after ``base`` doubling per attempt, at most ``longest``;
    an attempt that fails ``give_up_after`` or more after the first is the last, and the
    endpoint is disabled."""

    base: timedelta
    longest: timedelta
    give_up_after: timedelta

    def delay(self, attempts: int) -> timedelta:
        exponent = min(max(attempts - 1, 0), 40)
        grown: timedelta = self.base * (2**exponent)
        return min(grown, self.longest)

    def gives_up(self, first_attempt_at: datetime, now: datetime) -> bool:
        return now - first_attempt_at >= self.give_up_after


# --- what is sent ---------------------------------------------------------------------------


def cloud_event(
    message_id: uuid.UUID,
    kind: str,
    referral_id: uuid.UUID | None,
    submission_id: uuid.UUID | None,
    data: dict[str, Any],
    at: datetime,
) -> bytes:
    """A feed entry as a CloudEvent (structured mode, JSON). Its subject is the referral, never
    the citizen: a feed entry carries no CPR number nor citizen reference, and neither does this."""
    event = {
        "specversion": "1.0",
        "id": str(message_id),
        "source": SOURCE,
        "type": event_type(kind),
        "time": at.isoformat(),
        "datacontenttype": "application/json",
        **({"subject": f"referrals/{referral_id}"} if referral_id is not None else {}),
        "data": {
            "kind": kind,
            "referral_id": str(referral_id) if referral_id is not None else None,
            "submission_id": str(submission_id) if submission_id is not None else None,
            "data": data,
        },
    }
    return json.dumps(event, separators=(",", ":")).encode()
