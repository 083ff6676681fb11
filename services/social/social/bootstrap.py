"""The one place where the social service is wired together."""

from __future__ import annotations

from fastapi import FastAPI

from samspil.runtime.auth import TokenVerifier, install_auth
from samspil.runtime.cpr_guard import ENROLMENT_CPR_FIELD
from samspil.runtime.handled_input import HandledInput
from samspil.runtime.http import create_app
from samspil.runtime.service import ServiceRuntime
from schemas.topics import SOCIAL_COMMANDS, SOCIAL_EVENTS
from social.entrypoints import citizens_http, consumers, http, scheduler
from social.settings import SocialSettings

SERVICE_NAME = "social"
DESCRIPTION = "The social department's side: social plans, lead department and handover."


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
    )
    commands.watch(runtime)
    app = create_app(
        runtime,
        title="Samspil social service",
        description=DESCRIPTION,
        cpr_allowed=ENROLMENT_CPR_FIELD,
    )
    install_auth(app, TokenVerifier.from_settings(settings))
    app.include_router(citizens_http.router)
    app.include_router(http.router)
    return app
