"""The one place where the social service is wired together."""

from __future__ import annotations

from fastapi import FastAPI

from samspil.runtime.http import create_app
from samspil.runtime.service import ServiceRuntime
from social.settings import SocialSettings

SERVICE_NAME = "social"


def build_app(settings: SocialSettings) -> FastAPI:
    runtime = ServiceRuntime(name=SERVICE_NAME, settings=settings, migration_packages=["social.migrations"])
    return create_app(
        runtime,
        title="Samspil social service",
        description="The social department's side: social plans, lead department and handover.",
    )
