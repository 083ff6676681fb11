"""A dead letter must not outlive the record it came from: each service's dead-letter topic
keeps records no longer than any topic the service reads."""

from __future__ import annotations

from typing import Any

import pytest

from samspil.local.runner import SERVICES
from samspil.runtime.service import Subscription
from schemas.topics import (
    CATALOGUE,
    DAY_MS,
    EMPLOYMENT_COMMANDS,
    consumed_by,
    dead_letter_topic,
    retention_ms,
)

PLACEHOLDERS: dict[str, Any] = {
    "database_url": "postgresql://unused@localhost/unused",
    "dead_letter_key": "x" * 32,
    "token_secret": "x" * 32,
    "SAMSPIL_AUTH_SECRET": "x" * 32,
    "SAMSPIL_CITIZEN_REF_KEY": "x" * 32,
}


def subscription_of(service: str) -> Subscription:
    """What the service really subscribes to, as its bootstrap wires it."""
    if service == "employment":
        from employment.entrypoints.consumers import subscription as employment
        from employment.settings import EmploymentSettings

        return employment(EmploymentSettings(**PLACEHOLDERS))
    if service == "social":
        from social.entrypoints.consumers import subscription as social
        from social.settings import SocialSettings

        return social(SocialSettings(**PLACEHOLDERS))
    from provider_gateway.entrypoints.consumers import subscription as gateway

    return gateway()


@pytest.mark.parametrize("service", [spec.name for spec in SERVICES])
def test_a_dead_letter_topic_keeps_records_no_longer_than_any_topic_it_takes_them_from(service: str) -> None:
    topics = subscription_of(service).topics
    assert topics, "every service reads at least one topic"
    dead_letters = dead_letter_topic(service)
    assert all(dead_letters.retention_ms <= topic.retention_ms for topic in topics)
    # The catalogue says who reads what, and the retention follows from it: they must agree.
    assert {topic.name for topic in topics} == {topic.name for topic in consumed_by(service)}
    assert dead_letters in CATALOGUE


def test_a_service_that_reads_a_command_topic_keeps_its_dead_letters_as_briefly_as_the_commands() -> None:
    assert dead_letter_topic("employment").retention_ms == EMPLOYMENT_COMMANDS.retention_ms == 7 * DAY_MS
    assert dead_letter_topic("provider-gateway").retention_ms == 30 * DAY_MS


def test_a_topic_outside_the_catalogue_is_given_the_longest_retention() -> None:
    assert retention_ms(EMPLOYMENT_COMMANDS.name) == 7 * DAY_MS
    assert retention_ms("samspil.unknown.v1") == max(topic.retention_ms for topic in CATALOGUE)


@pytest.mark.parametrize("service", [spec.name for spec in SERVICES])
def test_every_service_runs_the_retention_purge(service: str) -> None:
    app = build_app(service)
    assert "retention" in app.state.runtime.workers


def build_app(service: str) -> Any:
    if service == "employment":
        from employment.bootstrap import build_app as employment
        from employment.settings import EmploymentSettings

        return employment(EmploymentSettings(**PLACEHOLDERS))
    if service == "social":
        from social.bootstrap import build_app as social
        from social.settings import SocialSettings

        return social(SocialSettings(**PLACEHOLDERS))
    from provider_gateway.bootstrap import build_app as gateway
    from provider_gateway.settings import GatewaySettings

    return gateway(GatewaySettings(**PLACEHOLDERS))
