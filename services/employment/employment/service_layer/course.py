"""Handlers of the contact course: enrolment, follow-ups, postponements, cadence, the lead
department, and the scheduler that reminds and announces overdue follow-ups."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import asyncpg
import structlog

from employment.adapters import cases
from employment.domain.actor import Actor
from employment.domain.citizens import ProfileTag, TargetGroup
from employment.domain.contact_course import AlarmKind, Course, CourseRuleBroken, Lead
from employment.service_layer.messages import DANISH_TIME, emit
from samspil.runtime.db import Connection
from samspil.runtime.errors import Invalid, NotFound
from schemas.commands import PostponeFollowUp, RecordFollowUp, SetFollowUpCadence
from schemas.common import Department
from schemas.contact_course import (
    FollowUpDueSoon,
    FollowUpKind,
    FollowUpOverdue,
    FollowUpPostponed,
    FollowUpRecorded,
    SocialFollowUpRecorded,
)
from schemas.envelope import Envelope
from schemas.lead_department import LeadDepartmentTakenOver

log = structlog.get_logger("employment.contact_course")


@dataclass(frozen=True)
class CourseRules:
    """The configurable parts of the contact course."""

    reminder_days: int = 14


async def enrol_citizen(
    conn: Connection,
    citizen_ref: str,
    cpr: str,
    target_group: TargetGroup,
    profile_tags: Sequence[ProfileTag],
    in_contact_course_since: date,
    actor: Actor,
    rules: CourseRules,
) -> bool:
    """Enrol a shared citizen; enrolling again updates the profile. True when new."""
    tags = sorted({tag.value for tag in profile_tags})
    created = await cases.insert_citizen(
        conn, citizen_ref, cpr, target_group.value, tags, in_contact_course_since, actor.name
    )
    if not created:
        await cases.update_profile(conn, citizen_ref, target_group.value, tags)
        return False
    if await cases.course(conn, citizen_ref, lock=True) is None:
        course = Course(started_on=in_contact_course_since)
        await cases.save_course(conn, citizen_ref, course, course.next_alarm_on(rules.reminder_days))
    return True


async def _course_of(conn: Connection, citizen_ref: str) -> Course:
    # The citizen's row first, then the course: every handler locks in this order.
    if await cases.citizen(conn, citizen_ref, lock=True) is None:
        raise NotFound("No such citizen is enrolled", field="citizen_ref")
    course = await cases.course(conn, citizen_ref, lock=True)
    assert course is not None, "every enrolled citizen has a contact course"
    return course


async def record_follow_up(
    conn: Connection,
    citizen_ref: str,
    command: RecordFollowUp,
    actor: Actor,
    today: date,
    rules: CourseRules,
    cause: Envelope | None = None,
) -> Course:
    course = await _course_of(conn, citizen_ref)
    try:
        updated = course.record_follow_up(command.held_on, Lead.EMPLOYMENT, today)
    except CourseRuleBroken as broken:
        raise Invalid(broken.message, field=broken.field) from None
    await cases.insert_follow_up(
        conn,
        citizen_ref,
        kind=command.kind.value,
        department=Department.EMPLOYMENT.value,
        held_on=command.held_on,
        note=command.note,
        recorded_by=actor.name,
    )
    await cases.save_course(conn, citizen_ref, updated, updated.next_alarm_on(rules.reminder_days))
    recorded = FollowUpRecorded(
        kind=command.kind,
        department=Department.EMPLOYMENT,
        held_on=command.held_on,
        next_due_on=updated.due_on,
    )
    await emit(conn, recorded, citizen_ref, cause)
    return updated


async def postpone_follow_up(
    conn: Connection,
    citizen_ref: str,
    command: PostponeFollowUp,
    actor: Actor,
    today: date,
    rules: CourseRules,
    cause: Envelope | None = None,
) -> Course:
    """Postpone the due follow-up. The justification note (socialfaglig vurdering) is required
    by the command's schema and kept in the case; the bus only learns that it exists."""
    course = await _course_of(conn, citizen_ref)
    try:
        updated = course.postpone(command.until, today)
    except CourseRuleBroken as broken:
        raise Invalid(broken.message, field=broken.field) from None
    await cases.insert_postponement(
        conn,
        citizen_ref,
        reason=command.reason.value,
        reason_text=command.reason_text,
        until=command.until,
        justification_note=command.justification_note,
        recorded_by=actor.name,
    )
    await cases.save_course(conn, citizen_ref, updated, updated.next_alarm_on(rules.reminder_days))
    postponed = FollowUpPostponed(
        reason=command.reason,
        reason_text=command.reason_text,
        until=command.until,
        justification_note_recorded=True,
        department=Department.EMPLOYMENT,
    )
    await emit(conn, postponed, citizen_ref, cause)
    return updated


async def set_cadence(
    conn: Connection, citizen_ref: str, command: SetFollowUpCadence, actor: Actor, rules: CourseRules
) -> Course:
    """An individual cadence under the trial, with the justification kept in the case."""
    course = await _course_of(conn, citizen_ref)
    try:
        updated = course.set_cadence(command.months)
    except CourseRuleBroken as broken:
        raise Invalid(broken.message, field=broken.field) from None
    note = f"{actor.name}: {command.justification_note}"
    await cases.save_course(conn, citizen_ref, updated, updated.next_alarm_on(rules.reminder_days), note)
    return updated


async def course_for_social_event(conn: Connection, citizen_ref: str, on: date) -> Course:
    """The course as the social department's events find it: the social department may lead
    before the jobcenter has enrolled the citizen, so the course may begin here."""
    await cases.citizen(conn, citizen_ref, lock=True)  # lock order: citizen, then course
    return await cases.course(conn, citizen_ref, lock=True) or Course(started_on=on)


async def lead_taken_over(
    conn: Connection, envelope: Envelope, event: LeadDepartmentTakenOver, rules: CourseRules
) -> None:
    """The social department took over the contact course: the jobcenter stops chasing."""
    course = await course_for_social_event(conn, envelope.subject, event.from_date)
    updated = course.switch_lead(Lead(event.lead_department.value), event.from_date)
    await cases.save_course(conn, envelope.subject, updated, updated.next_alarm_on(rules.reminder_days))
    log.info("lead department changed", lead=updated.lead.value)


async def social_follow_up(
    conn: Connection, envelope: Envelope, event: SocialFollowUpRecorded, rules: CourseRules
) -> None:
    """A follow-up held by the social department counts if it led the course on the day it was
    held: also when the jobcenter has taken the lead back since (the social department may record
    it before it learns of the handover)."""
    course = await course_for_social_event(conn, envelope.subject, event.held_on)
    if not course.social_led_on(event.held_on):
        log.info("social follow-up does not count: the social department did not lead then")
        return
    try:
        updated = course.record_follow_up(event.held_on, course.lead, _danish_date(envelope))
    except CourseRuleBroken as broken:
        log.warning("social follow-up not counted", field=broken.field, reason=broken.message)
        return
    await cases.insert_follow_up(
        conn,
        envelope.subject,
        kind=event.kind.value,
        department=Department.SOCIAL.value,
        held_on=event.held_on,
        note=None,
        recorded_by="social department",
        source_event_id=envelope.id,
    )
    await cases.save_course(conn, envelope.subject, updated, updated.next_alarm_on(rules.reminder_days))


async def provider_meeting(
    conn: Connection, envelope: Envelope, held_on: date, provider_id: str, rules: CourseRules
) -> None:
    """A provider's report of a meeting counts as the follow-up under the trial."""
    if await cases.citizen(conn, envelope.subject, lock=True) is None:
        return
    course = await cases.course(conn, envelope.subject, lock=True)
    if course is None:
        return
    try:
        # A meeting dated after the report arrived, or long before the course, is kept in the
        # case history but does not count: it must not silence the chasing.
        updated = course.record_follow_up(held_on, Lead.EMPLOYMENT, _danish_date(envelope))
    except CourseRuleBroken as broken:
        log.warning("provider meeting not counted", field=broken.field, reason=broken.message)
        return
    await cases.insert_follow_up(
        conn,
        envelope.subject,
        kind=FollowUpKind.PROVIDER_MEETING.value,
        department=Department.EMPLOYMENT.value,
        held_on=held_on,
        note=None,
        recorded_by=f"provider {provider_id}",
        source_event_id=envelope.id,
    )
    await cases.save_course(conn, envelope.subject, updated, updated.next_alarm_on(rules.reminder_days))


def _danish_date(envelope: Envelope) -> date:
    return envelope.time.astimezone(DANISH_TIME).date()


async def announce_due_follow_ups(
    pool: asyncpg.Pool, today: date, rules: CourseRules, batch: int = 200
) -> int:
    """Remind and announce overdue follow-ups whose day has come. Each course is claimed with
    FOR UPDATE SKIP LOCKED and its announcement recorded in the same transaction as the outbox
    event, so each alarm is announced once, across restarts and with several replicas."""
    announced = 0
    while True:
        announced_before = announced
        async with pool.acquire() as conn, conn.transaction():
            claimed = await cases.claim_alarms(conn, today, batch)
            for citizen_ref, course in claimed:
                alarm = course.alarm(today, rules.reminder_days)
                if alarm is not None:
                    course = course.announced(alarm)
                    if alarm.kind is AlarmKind.OVERDUE:
                        await emit(conn, FollowUpOverdue(due_on=alarm.due_on), citizen_ref)
                        await cases.record_overdue_follow_up(conn, citizen_ref, alarm.due_on)
                    else:
                        await emit(
                            conn, FollowUpDueSoon(due_on=alarm.due_on, days_left=alarm.days_left), citizen_ref
                        )
                    announced += 1
                await cases.save_course(conn, citizen_ref, course, course.next_alarm_on(rules.reminder_days))
        if len(claimed) < batch or announced == announced_before:
            return announced
