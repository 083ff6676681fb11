"""Bulk onboarding: enrol many citizens with their first job plan, set-wise, with the same rules,
rows, events and audit rows as the enrolment and job-plan handlers (course.enrol_citizen, then
plans.revise_job_plan with expected version 0) give one citizen at a time.

For each citizen, in the caller's transaction:
- not enrolled: enrolled, with a contact course from the day given (unless the social
  department started one), and the job plan as version 1 if one is given;
- enrolled: the profile is replaced, as enrolling again does; a job plan given is made version 1
  if the citizen has none, left alone if it is the current one, and the citizen is refused
  (nothing written) if another plan is current: the API would refuse it with 409 too;
- enrolled under a reference made with another key: refused, as the API refuses it.

Each plan made is a ``JobPlanRevised`` event in the outbox and a share in the audit log with
the actor's name, and is checked against the social plan summary where the jobcenter holds one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from employment.adapters import onboarding as rows
from employment.domain.actor import Actor
from employment.domain.citizens import ProfileTag, TargetGroup
from employment.domain.contact_course import Course
from employment.service_layer.course import CourseRules
from employment.service_layer.messages import envelope_for
from employment.service_layer.plans import check_plan_conflicts
from samspil.runtime import audit
from samspil.runtime.db import Connection
from samspil.runtime.outbox import add_events
from schemas.base import EventData
from schemas.commands import ReviseJobPlan
from schemas.consent import SharedInformation
from schemas.envelope import Envelope
from schemas.plans import JobPlanRevised
from schemas.topics import EMPLOYMENT_EVENTS

ANOTHER_KEY = "cpr: the citizen is enrolled under a reference made with another key"


@dataclass(frozen=True)
class OnboardCitizen:
    """Enrol one citizen and make their first job plan (``plan``, with expected version 0)."""

    line: int
    citizen_ref: str
    cpr: str
    target_group: TargetGroup
    profile_tags: Sequence[ProfileTag]
    in_contact_course_since: date
    plan: ReviseJobPlan | None


@dataclass(frozen=True)
class OnboardingContext:
    actor: Actor
    share_basis: str
    rules: CourseRules


class Outcome(StrEnum):
    ENROLLED = "enrolled"
    ALREADY_ENROLLED = "already enrolled"
    REFUSED = "refused"


@dataclass(frozen=True)
class Onboarded:
    line: int
    outcome: Outcome
    plan_made: bool = False
    reason: str | None = None


async def onboard(
    conn: Connection, commands: Sequence[OnboardCitizen], context: OnboardingContext
) -> list[Onboarded]:
    """Onboard the citizens (each CPR number once) in the caller's transaction; one outcome
    per command, in their order."""
    by_cpr = {command.cpr: command for command in commands}
    known = await rows.lock_enrolled(conn, list(by_cpr))
    new = [command for command in commands if command.cpr not in known]
    inserted = await rows.insert_citizens(
        conn,
        [
            rows.NewCitizen(c.citizen_ref, c.cpr, c.target_group.value, _tags(c), c.in_contact_course_since)
            for c in new
        ],
        context.actor.name,
    )
    # One enrolled by someone else after the first look waited for them, and is there now.
    known |= await rows.lock_enrolled(conn, [c.cpr for c in new if c.citizen_ref not in inserted])
    again = [c for c in commands if c.citizen_ref not in inserted and known.get(c.cpr) == c.citizen_ref]
    plans = await rows.current_plans(conn, [c.citizen_ref for c in again if c.plan is not None])

    outcomes: dict[int, Onboarded] = {}
    courses: list[tuple[str, date, int, str, date | None]] = []
    profiles: list[tuple[str, str, Sequence[str]]] = []
    planned: list[OnboardCitizen] = []
    for command in commands:
        if command.citizen_ref in inserted:
            course = Course(started_on=command.in_contact_course_since)
            alarm = course.next_alarm_on(context.rules.reminder_days)
            courses.append(
                (command.citizen_ref, course.started_on, course.cadence_months, course.lead.value, alarm)
            )
            outcome = Outcome.ENROLLED
        elif known.get(command.cpr) != command.citizen_ref:
            outcomes[command.line] = Onboarded(command.line, Outcome.REFUSED, reason=ANOTHER_KEY)
            continue
        else:
            current = plans.get(command.citizen_ref)
            if command.plan is not None and current is not None and not _same(command.plan, current):
                reason = (
                    f"the citizen is enrolled and the job plan is at version {current.version},"
                    " not this file's: change it through the case API"
                )
                outcomes[command.line] = Onboarded(command.line, Outcome.REFUSED, reason=reason)
                continue
            profiles.append((command.citizen_ref, command.target_group.value, _tags(command)))
            outcome = Outcome.ALREADY_ENROLLED
            if current is not None:
                outcomes[command.line] = Onboarded(command.line, outcome)
                continue
        if command.plan is not None:
            planned.append(command)
        outcomes[command.line] = Onboarded(command.line, outcome, plan_made=command.plan is not None)

    await rows.insert_new_courses(conn, courses)
    await rows.update_profiles(conn, profiles)
    await _make_first_plans(conn, planned, context)
    return [outcomes[command.line] for command in commands]


async def _make_first_plans(
    conn: Connection, commands: Sequence[OnboardCitizen], context: OnboardingContext
) -> None:
    """What plans.revise_job_plan does for version 1, for many citizens at once."""
    if not commands:
        return
    await rows.insert_plans(
        conn,
        [
            (c.citizen_ref, 1, c.plan.goal, [a.model_dump(mode="json") for a in c.plan.activities])
            for c in commands
            if c.plan is not None
        ],
        context.actor.name,
    )
    events: list[tuple[Envelope, EventData]] = []
    for command in commands:
        assert command.plan is not None
        revised = JobPlanRevised(plan_version=1, goal=command.plan.goal, activities=command.plan.activities)
        events.append((envelope_for(revised, command.citizen_ref, None, context.share_basis), revised))
    await add_events(conn, events, EMPLOYMENT_EVENTS.name)
    summary = SharedInformation.JOB_PLAN_SUMMARY.value
    await audit.log_shares(
        conn,
        [
            (envelope.subject, summary, "social", context.share_basis, context.actor.name, envelope.id)
            for envelope, _ in events
        ],
    )
    # Rare on the day a municipality starts: the social department has shared its plan already.
    for citizen_ref in await rows.with_social_summary(conn, [c.citizen_ref for c in commands]):
        await check_plan_conflicts(conn, citizen_ref)


def _tags(command: OnboardCitizen) -> list[str]:
    return sorted({tag.value for tag in command.profile_tags})


def _same(plan: ReviseJobPlan, current: rows.CurrentPlan) -> bool:
    activities = [activity.model_dump(mode="json") for activity in plan.activities]
    return plan.goal == current.goal and activities == current.activities
