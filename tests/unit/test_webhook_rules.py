"""The webhook rules as plain code: signatures the Standard Webhooks reference verifier accepts,
the addresses a delivery may go to, the retry schedule, and secrets sealed for the database."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import standardwebhooks
from cryptography.exceptions import InvalidTag

from provider_gateway.domain.webhooks import (
    RefusedUrl,
    RetryRule,
    SecretBox,
    check_addresses,
    cloud_event,
    new_signing_secret,
    refused_address,
    target_of,
)
from provider_gateway.service_layer.webhooks import signed_headers


def test_a_signed_cloud_event_passes_the_standard_webhooks_verifier() -> None:
    secret = new_signing_secret()
    message_id = uuid.uuid4()
    body = cloud_event(
        message_id, "referral-requested", uuid.uuid4(), None, {}, datetime(2026, 12, 1, tzinfo=UTC)
    )
    now = datetime.now(UTC).timestamp()
    headers = signed_headers(secret, message_id, body, now)

    verified = standardwebhooks.Webhook(secret).verify(body, headers)

    assert verified["id"] == str(message_id)
    assert verified["type"] == "dk.samspil.provider.feed.referral-requested.v1"
    assert headers["webhook-id"] == str(message_id)
    assert headers["content-type"] == "application/cloudevents+json"


def test_a_signature_with_another_secret_or_body_is_refused_by_the_verifier() -> None:
    message_id = uuid.uuid4()
    body = cloud_event(
        message_id, "submission-final", uuid.uuid4(), uuid.uuid4(), {"final": True}, datetime.now(UTC)
    )
    headers = signed_headers(new_signing_secret(), message_id, body, datetime.now(UTC).timestamp())
    with pytest.raises(standardwebhooks.webhooks.WebhookVerificationError):
        standardwebhooks.Webhook(new_signing_secret()).verify(body, headers)
    secret = new_signing_secret()
    headers = signed_headers(secret, message_id, body, datetime.now(UTC).timestamp())
    with pytest.raises(standardwebhooks.webhooks.WebhookVerificationError):
        standardwebhooks.Webhook(secret).verify(body + b" ", headers)


def test_the_cloud_event_names_the_referral_never_a_citizen() -> None:
    referral_id = uuid.uuid4()
    event = json.loads(
        cloud_event(uuid.uuid4(), "referral-cancelled", referral_id, None, {"reason": "x"}, datetime.now(UTC))
    )
    assert event["subject"] == f"referrals/{referral_id}"
    assert event["specversion"] == "1.0"
    assert event["data"] == {
        "kind": "referral-cancelled",
        "referral_id": str(referral_id),
        "submission_id": None,
        "data": {"reason": "x"},
    }


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "a loopback address"),
        ("::1", "a loopback address"),
        ("169.254.169.254", "a link-local address"),
        ("fe80::1", "a link-local address"),
        ("10.1.2.3", "a private address"),
        ("172.16.0.1", "a private address"),
        ("192.168.1.1", "a private address"),
        ("fd00::1", "a private address"),
        ("::ffff:127.0.0.1", "a loopback address"),
        ("::ffff:10.0.0.1", "a private address"),
        ("100.64.0.1", "not a public address"),
        ("0.0.0.0", "a private address"),  # noqa: S104 - an address to refuse, not one to bind
        ("224.0.0.1", "not a public address"),
        ("93.184.215.14", None),
        ("2606:4700::1111", None),
    ],
)
def test_only_public_addresses_are_allowed(address: str, reason: str | None) -> None:
    assert refused_address(address) == reason


def test_one_private_address_among_public_ones_refuses_the_host() -> None:
    with pytest.raises(RefusedUrl, match="resolves to a non-public address") as refused:
        check_addresses("hooks.example", ["93.184.215.14", "10.0.0.7"], local_mode=False)
    assert "10.0.0.7" not in str(refused.value)
    assert check_addresses("hooks.example", ["10.0.0.7"], local_mode=True) == "10.0.0.7"
    with pytest.raises(RefusedUrl, match="does not resolve"):
        check_addresses("hooks.example", [], local_mode=True)


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://hooks.example/x", "https"),
        ("ftp://hooks.example/x", "https"),
        ("https:///x", "host"),
        ("https://user:pw@hooks.example/x", "user name or password"),
        ("https://hooks.example/x#part", "fragment"),
        ("https://hooks.example:99999/x", "not a URL"),
    ],
)
def test_urls_the_gateway_does_not_deliver_to(url: str, why: str) -> None:
    with pytest.raises(RefusedUrl, match=why):
        target_of(url, local_mode=False)


def test_local_mode_allows_plain_http() -> None:
    target = target_of("http://localhost:8123/hook?x=1", local_mode=True)
    assert (target.scheme, target.host, target.port, target.path) == ("http", "localhost", 8123, "/hook?x=1")


def test_retries_back_off_exponentially_up_to_the_longest_wait_and_give_up_after_a_day() -> None:
    rule = RetryRule(timedelta(seconds=5), timedelta(hours=1), timedelta(hours=24))
    assert [rule.delay(n).total_seconds() for n in (1, 2, 3, 4)] == [5, 10, 20, 40]
    assert rule.delay(30) == timedelta(hours=1)
    first = datetime(2026, 12, 1, tzinfo=UTC)
    assert not rule.gives_up(first, first + timedelta(hours=23, minutes=59))
    assert rule.gives_up(first, first + timedelta(hours=24))


def test_a_sealed_secret_opens_only_for_its_endpoint_and_key() -> None:
    endpoint_id = uuid.uuid4()
    secret = new_signing_secret()
    sealed = SecretBox("k" * 40).seal(endpoint_id, secret)
    assert secret.encode() not in sealed
    assert SecretBox("k" * 40).open(endpoint_id, sealed) == secret
    with pytest.raises(InvalidTag):
        SecretBox("k" * 40).open(uuid.uuid4(), sealed)
    with pytest.raises(InvalidTag):
        SecretBox("j" * 40).open(endpoint_id, sealed)
