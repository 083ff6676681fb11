"""The one place where the social service is wired together."""

from __future__ import annotations

from fastapi import FastAPI

from samspil.runtime.api_docs import tag_routes
from samspil.runtime.auth import TokenVerifier, install_auth
from samspil.runtime.cpr_guard import ENROLMENT_CPR_FIELD
from samspil.runtime.handled_input import HandledInput
from samspil.runtime.http import create_app
from samspil.runtime.service import ServiceRuntime
from schemas.topics import SOCIAL_COMMANDS, SOCIAL_EVENTS
from social.adapters import kpi_gauges
from social.entrypoints import citizens_http, consumers, http, kpis_http, scheduler
from social.service_layer.messages import danish_today
from social.settings import SocialSettings

SERVICE_NAME = "social"
DESCRIPTION = "The social department's side: social plans, lead department and handover."
# The API's sections: a route's tag is that of the longest path prefix it starts with.
SECTIONS = {
    "/v1/citizens": "citizens",
    "/v1/citizens/{citizen_ref}/lead": "contact course",
    "/v1/citizens/{citizen_ref}/follow-ups": "contact course",
    "/v1/citizens/{citizen_ref}/social-plan": "plans",
    "/v1/citizens/{citizen_ref}/plan-change-decisions": "plans",
    "/v1/citizens/{citizen_ref}/objections": "plans",
    "/v1/citizens/{citizen_ref}/consents": "consents",
    "/v1/citizens/{citizen_ref}/handovers": "handovers",
    "/v1/citizens/{citizen_ref}/readiness-assessments": "readiness",
    "/v1/citizens/{citizen_ref}/notes": "notes",
    "/v1/disputes": "disputes",
    "/v1/tasks": "tasks",
    "/v1/reports": "reports",
}


def build_app(settings: SocialSettings) -> FastAPI:
    commands = HandledInput(SOCIAL_COMMANDS.name)  # the social team's objections arrive there
    runtime = ServiceRuntime(
        name=SERVICE_NAME,
        settings=settings,
        migration_packages=["social.migrations"],
        subscription=consumers.subscription(settings),
        publishes=[SOCIAL_EVENTS],
        description=DESCRIPTION,
        workers={
            "protocol-deadlines": scheduler.worker(settings, commands),
            "retention": scheduler.retention_worker(settings),
        },
        scheduled_gauges=[kpi_gauges.scheduled(settings.kpi_gauge_seconds, danish_today)],
    )
    commands.watch(runtime)
    app = create_app(
        runtime,
        title="Samspil social service",
        description=DESCRIPTION,
        cpr_allowed=ENROLMENT_CPR_FIELD,
    )
    install_auth(app, TokenVerifier.from_settings(settings))
    for router in (citizens_http.router, http.router, kpis_http.router):
        tag_routes(router, SECTIONS)
        app.include_router(router)
    return app
