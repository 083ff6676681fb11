"""The one place where the employment service is wired together."""

from __future__ import annotations

from fastapi import FastAPI

from employment.entrypoints import consumers, http
from employment.settings import EmploymentSettings
from samspil.runtime.http import create_app
from samspil.runtime.service import ServiceRuntime
from schemas.topics import EMPLOYMENT_EVENTS

SERVICE_NAME = "employment"
DESCRIPTION = "The jobcenter's side: referrals, the contact course and caseworker tasks."


def build_app(settings: EmploymentSettings) -> FastAPI:
    runtime = ServiceRuntime(
        name=SERVICE_NAME,
        settings=settings,
        migration_packages=["employment.migrations"],
        subscription=consumers.subscription(settings),
        publishes=[EMPLOYMENT_EVENTS],
        description=DESCRIPTION,
    )
    app = create_app(runtime, title="Samspil employment service", description=DESCRIPTION)
    app.include_router(http.router)
    return app
