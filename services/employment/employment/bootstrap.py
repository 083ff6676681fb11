"""The one place where the employment service is wired together."""

from __future__ import annotations

from fastapi import FastAPI

from employment.entrypoints import consumers, http
from employment.settings import EmploymentSettings
from samspil.runtime.http import create_app
from samspil.runtime.service import ServiceRuntime

SERVICE_NAME = "employment"


def build_app(settings: EmploymentSettings) -> FastAPI:
    runtime = ServiceRuntime(
        name=SERVICE_NAME,
        settings=settings,
        migration_packages=["employment.migrations"],
        subscription=consumers.subscription(settings),
    )
    app = create_app(
        runtime,
        title="Samspil employment service",
        description="The jobcenter's side: referrals, contact course and caseworker tasks.",
    )
    app.include_router(http.router)
    return app
