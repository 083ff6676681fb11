"""A provider's step in a referral's lifecycle (accept, reject, start, hold, resume, complete,
fail, cancel), as the API and the portal take it: the same checks, the same writes."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from pydantic import Field

from provider_gateway.adapters import repository
from provider_gateway.domain.lifecycle import ReferralNotFound, check_transition
from samspil.runtime.db import Connection
from samspil.runtime.outbox import add_event
from schemas.common import ShortText, Strict
from schemas.envelope import Envelope
from schemas.referrals import (
    CompletionCategory,
    ReasonCategory,
    ReferralCompleted,
    ReferralStatus,
    ReferralTransition,
    outcome_category_of,
    reason_category_of,
)
from schemas.topics import PROVIDER_REPORTS

SOURCE = "/samspil/provider-gateway"


class StepIn(Strict):
    """A step in the referral's lifecycle. A reason is required to reject, cancel, put on hold
    or fail; an outcome to complete. Rejecting, failing and cancelling may also give the reason's
    category, and completing the outcome's category (how the municipality counts how referrals
    end); no other step takes either."""

    occurred_on: date | None = Field(default=None, description="Defaults to today.")
    reason: ShortText | None = None
    reason_category: ReasonCategory | None = Field(
        default=None, description="Only to reject, fail or cancel: the reason's category."
    )
    outcome: ShortText | None = None
    outcome_category: CompletionCategory | None = Field(
        default=None,
        description="Only to complete: what the citizen goes on to (job, education, next-offer, other).",
    )


def step_details(
    step: type[ReferralTransition], referral_id: uuid.UUID, provider_id: str, body: StepIn
) -> dict[str, Any]:
    """What the step records, checked against the step's own rules (a reason required to put a
    referral on hold, an outcome to complete it, no category where none belongs): a
    ValidationError naming the field otherwise."""
    details: dict[str, Any] = {"occurred_on": body.occurred_on or date.today(), "reason": body.reason}
    if body.reason_category is not None:  # a step that takes none refuses it by name
        details["reason_category"] = body.reason_category
    if body.outcome_category is not None:  # likewise: only a completion takes one
        details["outcome_category"] = body.outcome_category
    if step is ReferralCompleted:
        details["outcome"] = body.outcome
    step.model_validate({"referral_id": referral_id, "provider_id": provider_id, **details})
    return details


async def take_step(
    conn: Connection,
    provider_id: str,
    referral_id: uuid.UUID,
    step: type[ReferralTransition],
    details: dict[str, Any],
) -> Any:
    """The provider takes a step in the referral's lifecycle; the jobcenter hears of it through
    the outbox, in the same transaction. Returns the referral as it now is; ReferralNotFound
    when it is not the provider's, IllegalTransition when its status forbids the step."""
    referral = await repository.referral_for_provider(conn, referral_id, provider_id, lock="FOR UPDATE")
    if referral is None:
        raise ReferralNotFound
    new_status = check_transition(ReferralStatus(referral["status"]), step)
    event = step(referral_id=referral_id, provider_id=provider_id, **details)
    reason_category, outcome_category = reason_category_of(event), outcome_category_of(event)
    await repository.set_referral_status(
        conn,
        referral_id,
        new_status,
        "provider",
        event.occurred_on,
        event.reason,
        reason_category.value if reason_category else None,
        outcome_category.value if outcome_category else None,
    )
    envelope = Envelope(
        source=SOURCE,
        type=event.event_type,
        subject=referral["citizen_ref"],
        dataschema=event.dataschema,
        correlationid=uuid.uuid4(),
    )
    await add_event(conn, envelope, event, topic=PROVIDER_REPORTS.name)
    row = await repository.referral_for_provider(conn, referral_id, provider_id)
    assert row is not None  # locked and updated just now in this transaction
    return row
