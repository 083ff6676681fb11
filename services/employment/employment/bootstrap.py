"""The one place where the employment service is wired together."""

from __future__ import annotations

import structlog
from fastapi import FastAPI

from employment.adapters import gauges
from employment.entrypoints import citizens_http, consumers, http, scheduler
from employment.settings import EmploymentSettings
from samspil.runtime.auth import TokenVerifier, install_auth
from samspil.runtime.cpr_guard import ENROLMENT_CPR_FIELD
from samspil.runtime.handled_input import HandledInput
from samspil.runtime.http import create_app
from samspil.runtime.service import ServiceRuntime
from schemas.topics import EMPLOYMENT_COMMANDS, EMPLOYMENT_EVENTS

SERVICE_NAME = "employment"
DESCRIPTION = "The jobcenter's side: referrals, the contact course and caseworker tasks."


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
    app.include_router(citizens_http.router)
    app.include_router(http.router)
    return app
