"""The topic catalogue: every topic on the bus, who writes it and who reads it.

The broker's topics are created from this list, so it is the one place to look.
"""

from __future__ import annotations

from dataclasses import dataclass

from schemas.envelope import DataClassification

DAY_MS = 24 * 60 * 60 * 1000


@dataclass(frozen=True)
class Topic:
    name: str
    key: str
    partitions: int
    retention_ms: int
    producer: str
    consumers: tuple[str, ...]
    classification: DataClassification
    description: str


PROVIDER_REPORTS = Topic(
    name="samspil.provider.reports.v1",
    key="citizen reference",
    partitions=6,
    retention_ms=30 * DAY_MS,
    producer="provider-gateway",
    consumers=("employment", "social"),
    classification=DataClassification.SENSITIVE,
    description="Reports from providers: absence, progress, readiness, plan-change requests, "
    "meetings, and the provider's side of each referral's lifecycle.",
)

EMPLOYMENT_EVENTS = Topic(
    name="samspil.employment.events.v1",
    key="citizen reference",
    partitions=6,
    retention_ms=30 * DAY_MS,
    producer="employment",
    consumers=("provider-gateway", "social"),
    classification=DataClassification.PERSONAL,
    description="Facts from the employment department: referrals, tasks, decisions, plan summaries.",
)

SOCIAL_EVENTS = Topic(
    name="samspil.social.events.v1",
    key="citizen reference",
    partitions=6,
    retention_ms=30 * DAY_MS,
    producer="social",
    consumers=("employment", "provider-gateway"),
    classification=DataClassification.PERSONAL,
    description="Facts from the social department: plan summaries, lead department, handover.",
)


EMPLOYMENT_COMMANDS = Topic(
    name="samspil.employment.commands.v1",
    key="citizen reference",
    partitions=6,
    retention_ms=7 * DAY_MS,
    producer="the employment department's case system",
    consumers=("employment",),
    classification=DataClassification.SENSITIVE,
    description="Commands to the employment service, with the same validation as its HTTP API.",
)

SOCIAL_COMMANDS = Topic(
    name="samspil.social.commands.v1",
    key="citizen reference",
    partitions=6,
    retention_ms=7 * DAY_MS,
    producer="the social department's case system",
    consumers=("social",),
    classification=DataClassification.SENSITIVE,
    description="Commands to the social service, with the same validation as its HTTP API.",
)


# The topics services take records from; a dead letter comes from one of them.
SOURCE_TOPICS: tuple[Topic, ...] = (
    PROVIDER_REPORTS,
    EMPLOYMENT_EVENTS,
    SOCIAL_EVENTS,
    EMPLOYMENT_COMMANDS,
    SOCIAL_COMMANDS,
)


def consumed_by(service: str) -> tuple[Topic, ...]:
    return tuple(topic for topic in SOURCE_TOPICS if service in topic.consumers)


def dead_letter_topic(service: str) -> Topic:
    """Each consuming service has its own dead-letter topic, read by operators and replay. It
    keeps records no longer than the shortest-lived topic the service reads (for a service the
    catalogue does not know, the shortest of all): a dead letter must not outlive its source."""
    sources = consumed_by(service) or SOURCE_TOPICS
    return Topic(
        name=f"samspil.{service}.dead-letter.v1",
        key="original key",
        partitions=1,
        retention_ms=min(topic.retention_ms for topic in sources),
        producer=service,
        consumers=("operators",),
        classification=DataClassification.SENSITIVE,
        description=f"Messages the {service} service could not process, with the reason.",
    )


SERVICES = ("employment", "social", "provider-gateway")

CATALOGUE: tuple[Topic, ...] = (
    PROVIDER_REPORTS,
    EMPLOYMENT_EVENTS,
    SOCIAL_EVENTS,
    EMPLOYMENT_COMMANDS,
    SOCIAL_COMMANDS,
    *(dead_letter_topic(service) for service in SERVICES),
)


def retention_ms(topic_name: str) -> int:
    """How long the broker keeps records of the named topic; for a topic not in the catalogue,
    the longest any catalogued topic keeps them."""
    for topic in CATALOGUE:
        if topic.name == topic_name:
            return topic.retention_ms
    return max(topic.retention_ms for topic in CATALOGUE)
