"""The one place where the employment service is wired together."""

from __future__ import annotations

import structlog
from fastapi import FastAPI

from employment.adapters import gauges, kpi_gauges
from employment.entrypoints import citizens_http, consumers, http, kpis_http, scheduler
from employment.service_layer.messages import danish_today
from employment.settings import EmploymentSettings
from samspil.runtime.api_docs import tag_routes
from samspil.runtime.auth import TokenVerifier, install_auth
from samspil.runtime.cpr_guard import ENROLMENT_CPR_FIELD
from samspil.runtime.handled_input import HandledInput
from samspil.runtime.http import create_app
from samspil.runtime.service import ServiceRuntime
from schemas.topics import EMPLOYMENT_COMMANDS, EMPLOYMENT_EVENTS

SERVICE_NAME = "employment"
DESCRIPTION = "The jobcenter's side: referrals, the contact course and caseworker tasks."
# The API's sections: a route's tag is that of the longest path prefix it starts with.
SECTIONS = {
    "/v1/citizens": "citizens",
    "/v1/citizens/{citizen_ref}/contact-course": "contact course",
    "/v1/citizens/{citizen_ref}/follow-ups": "contact course",
    "/v1/citizens/{citizen_ref}/postponements": "contact course",
    "/v1/citizens/{citizen_ref}/cadence": "contact course",
    "/v1/citizens/{citizen_ref}/absence-assessments": "contact course",
    "/v1/citizens/{citizen_ref}/job-plan": "plans",
    "/v1/citizens/{citizen_ref}/plan-change-decisions": "plans",
    "/v1/citizens/{citizen_ref}/objections": "plans",
    "/v1/citizens/{citizen_ref}/social-decisions": "plans",
    "/v1/citizens/{citizen_ref}/handovers": "handovers",
    "/v1/citizens/{citizen_ref}/notes": "notes",
    "/v1/citizens/{citizen_ref}/referrals": "referrals",
    "/v1/referrals": "referrals",
    "/v1/tasks": "tasks",
    "/v1/reports": "reports",
}


def build_app(settings: EmploymentSettings) -> FastAPI:
    commands = HandledInput(EMPLOYMENT_COMMANDS.name)  # the jobcenter's objections arrive there
    runtime = ServiceRuntime(
        name=SERVICE_NAME,
        settings=settings,
        migration_packages=["employment.migrations"],
        subscription=consumers.subscription(settings),
        publishes=[EMPLOYMENT_EVENTS],
        description=DESCRIPTION,
        workers={
            "contact-course-scheduler": scheduler.worker(settings, commands),
            "retention": scheduler.retention_worker(settings),
        },
        database_gauges=gauges.GAUGES,
        scheduled_gauges=[
            kpi_gauges.scheduled(settings.kpi_gauge_seconds, settings.parked_after_months, danish_today)
        ],
    )
    commands.watch(runtime)
    app = create_app(
        runtime,
        title="Samspil employment service",
        description=DESCRIPTION,
        cpr_allowed=ENROLMENT_CPR_FIELD,
    )
    install_auth(app, TokenVerifier.from_settings(settings))
    app.state.cpr_log = structlog.get_logger("employment.cpr-disclosure")
    for router in (citizens_http.router, http.router, kpis_http.router):
        tag_routes(router, SECTIONS)
        app.include_router(router)
    return app
