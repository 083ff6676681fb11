"""The one place where the social service is wired together."""

from __future__ import annotations

from fastapi import FastAPI

from samspil.runtime.http import create_app
from samspil.runtime.service import ServiceRuntime, Subscription
from schemas.topics import SOCIAL_COMMANDS, SOCIAL_EVENTS
from social.settings import SocialSettings

SERVICE_NAME = "social"
DESCRIPTION = "The social department's side: social plans, lead department and handover."


def build_app(settings: SocialSettings) -> FastAPI:
    runtime = ServiceRuntime(
        name=SERVICE_NAME,
        settings=settings,
        migration_packages=["social.migrations"],
        # Commands from the department's case system are kept (dead-lettered as unsupported,
        # to be replayed) until this service's capabilities arrive.
        subscription=Subscription(topics=[SOCIAL_COMMANDS], handlers={}),
        publishes=[SOCIAL_EVENTS],
        description=DESCRIPTION,
    )
    return create_app(runtime, title="Samspil social service", description=DESCRIPTION)
