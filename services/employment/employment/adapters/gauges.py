"""The employment service's own gauges, read from its database on each metrics scrape.

Overdue is the domain's word (``domain/contact_course.py``): a contact course the jobcenter
chases (it is the lead department) whose next follow-up is due before today, Danish time; the
due date is the last follow-up (or the course's start) plus the cadence in months, clamped to
the month's end as PostgreSQL's month arithmetic does too, or a later postponement. A caseworker
task is overdue when it is open and its due date has passed. A test holds the query to the
domain's rule on the same courses.
"""

from __future__ import annotations

from samspil.runtime.metrics import DatabaseGauge

_DANISH_TODAY = "(now() AT TIME ZONE 'Europe/Copenhagen')::date"

OVERDUE_FOLLOW_UPS = DatabaseGauge(
    name="samspil_overdue_follow_ups",
    documentation="Contact courses the jobcenter leads whose follow-up is past its due date.",
    query="SELECT count(*) FROM contact_course WHERE lead_department = 'employment'"
    " AND greatest(postponed_until,"
    " (coalesce(last_follow_up_on, started_on) + make_interval(months => cadence_months))::date)"
    f" < {_DANISH_TODAY}",
)

OVERDUE_TASKS = DatabaseGauge(
    name="samspil_overdue_tasks",
    documentation="Open caseworker tasks past their due date.",
    query=f"SELECT count(*) FROM caseworker_task WHERE status = 'open' AND due_on < {_DANISH_TODAY}",
)

GAUGES = (OVERDUE_FOLLOW_UPS, OVERDUE_TASKS)
