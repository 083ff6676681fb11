"""The plan-change protocol's rules beside its windows: which decisions and disputes are found for
whom, when the specialist unit may rule and what follows from its ruling, and when the social team
may decide a provider's request to change the social plan."""

from __future__ import annotations

from datetime import date

import pytest

from samspil.runtime.errors import Conflict, Invalid, NotFound, Rejected
from schemas.decisions import PlanChangeDecision
from schemas.disputes import FinalOutcome, FinalVia, RulingOutcome
from social.domain import protocol

CITIZEN = "c-1"
OTHER = "c-2"


@pytest.mark.parametrize(
    ("owner", "asked_for", "found"),
    [
        (CITIZEN, CITIZEN, True),
        (CITIZEN, None, True),
        (CITIZEN, OTHER, False),
        (None, CITIZEN, False),
        (None, None, False),
    ],
    ids=[
        "the-citizens-own",
        "asked-for-no-citizen",
        "another-citizens",
        "no-such-decision",
        "none-for-anyone",
    ],
)
def test_a_decision_is_found_only_for_its_own_citizen(
    owner: str | None, asked_for: str | None, found: bool
) -> None:
    if found:
        protocol.check_decision_found(owner, asked_for)
        return
    with pytest.raises(NotFound) as refused:
        protocol.check_decision_found(owner, asked_for)
    assert refused.value.field == "decision_id"


@pytest.mark.parametrize(
    ("owner", "asked_for", "status", "refusal", "detail"),
    [
        (CITIZEN, CITIZEN, "open", None, None),
        (CITIZEN, None, "open", None, None),
        (CITIZEN, OTHER, "open", NotFound, "No such dispute"),
        (None, None, None, NotFound, "No such dispute"),
        (CITIZEN, CITIZEN, "ruled", Conflict, "The dispute was already ruled"),
        (CITIZEN, OTHER, "ruled", NotFound, "No such dispute"),
    ],
    ids=[
        "open",
        "unit-asks-for-no-citizen",
        "another-citizens",
        "no-such-dispute",
        "already-ruled",
        "hidden-first",
    ],
)
def test_the_unit_rules_once_on_an_open_dispute_of_the_citizen(
    owner: str | None,
    asked_for: str | None,
    status: str | None,
    refusal: type[Rejected] | None,
    detail: str | None,
) -> None:
    if refusal is None:
        protocol.check_ruling(owner, asked_for, status)
        return
    with pytest.raises(refusal) as refused:
        protocol.check_ruling(owner, asked_for, status)
    assert refused.value.field == "dispute_id"
    assert refused.value.detail == detail
    if refusal is Conflict:
        assert refused.value.extra == {"current_status": status}


@pytest.mark.parametrize(
    ("outcome", "follows"),
    [
        (RulingOutcome.EMPLOYMENT_POSITION, True),
        (RulingOutcome.COMPROMISE, True),
        (RulingOutcome.SOCIAL_POSITION, False),
    ],
)
def test_the_social_plan_follows_every_ruling_but_one_upholding_the_social_position(
    outcome: RulingOutcome, follows: bool
) -> None:
    assert protocol.social_plan_follows(outcome) is follows


@pytest.mark.parametrize("outcome", list(RulingOutcome))
def test_the_provider_reads_what_the_unit_wrote_for_it_or_else_only_the_outcome(
    outcome: RulingOutcome,
) -> None:
    assert protocol.ruling_for_provider(outcome, "Written for the provider.") == "Written for the provider."
    for nothing in (None, ""):
        assert protocol.ruling_for_provider(outcome, nothing) == protocol.RULED_FOR_PROVIDER[outcome]
        assert protocol.ruling_for_provider(outcome, nothing).startswith("The joint specialist unit")


@pytest.mark.parametrize(
    ("via", "outcome", "kept"),
    [
        (FinalVia.UNOPPOSED, FinalOutcome.APPROVED, "unopposed:approved"),
        (FinalVia.RULING, FinalOutcome.COMPROMISE, "ruling:compromise"),
    ],
)
def test_a_final_outcome_is_kept_with_how_it_became_final(
    via: FinalVia, outcome: FinalOutcome, kept: str
) -> None:
    assert protocol.final_outcome(via, outcome) == kept


@pytest.mark.parametrize(
    ("decision", "requested", "version"),
    [
        (PlanChangeDecision.APPROVED, 3, 3),
        (PlanChangeDecision.APPROVED, None, None),
        (PlanChangeDecision.REJECTED, 3, None),
    ],
    ids=["approved", "approved-without-version", "rejected-keeps-the-plan"],
)
def test_only_an_approval_moves_the_social_plan_to_a_version(
    decision: PlanChangeDecision, requested: int | None, version: int | None
) -> None:
    assert protocol.resulting_version(decision, requested) == version


@pytest.mark.parametrize(
    ("request_found", "earlier", "version", "exists", "refusal", "detail"),
    [
        (True, None, 3, True, None, None),
        (True, None, None, False, None, None),
        (False, None, 3, True, NotFound, "No request to change the social plan"),
        (True, "approved", 3, True, Conflict, "The request was already approved"),
        (True, "rejected", None, False, Conflict, "The request was already rejected"),
        (True, None, 3, False, Invalid, "The social plan has no version 3; revise it first"),
        (False, "approved", 3, False, NotFound, "No request to change the social plan"),
    ],
    ids=[
        "approved",
        "rejected",
        "no-request",
        "decided-before",
        "rejected-before",
        "no-such-version",
        "first-refusal",
    ],
)
def test_the_social_team_decides_a_request_once_and_an_approval_names_a_plan_version(
    request_found: bool,
    earlier: str | None,
    version: int | None,
    exists: bool,
    refusal: type[Rejected] | None,
    detail: str | None,
) -> None:
    if refusal is None:
        protocol.check_own_decision(request_found, earlier, version, exists)
        return
    with pytest.raises(refusal) as refused:
        protocol.check_own_decision(request_found, earlier, version, exists)
    assert detail is not None and refused.value.detail.startswith(detail)
    assert refused.value.field == ("resulting_plan_version" if refusal is Invalid else "submission_id")


@pytest.mark.parametrize(
    ("status", "applies"), [("open", True), ("objected", False), ("final", False), (None, False)]
)
def test_the_jobcenters_objection_raises_a_dispute_only_on_an_open_decision(
    status: str | None, applies: bool
) -> None:
    assert protocol.jobcenter_objection_applies(status) is applies


@pytest.mark.parametrize("rule_by", [date(2027, 3, 6), date(2027, 3, 8)], ids=["a-saturday", "a-monday"])
def test_the_units_task_on_the_jobcenters_objection_is_due_when_the_jobcenter_set(rule_by: date) -> None:
    task = protocol.jobcenter_dispute_task(rule_by)
    assert task.due_on == rule_by
    assert task.kind == "rule-dispute"
