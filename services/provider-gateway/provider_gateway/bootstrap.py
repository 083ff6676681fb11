"""The one place where the provider gateway is wired together."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError

from provider_gateway.adapters.report_connections import ReportConnections
from provider_gateway.entrypoints import consumers, http, scheduler, tokens, webhooks
from provider_gateway.entrypoints.auth import TokenIdentity, VerifiedTokens, client_before_refusal
from provider_gateway.entrypoints.guards import AuditTrail, BodyRules, ReferralCitizens
from provider_gateway.entrypoints.limits import AddressLimit, RateLimiter
from provider_gateway.portal import install as install_portal
from provider_gateway.portal.actions import PORTAL_REFERRAL_FORMS
from provider_gateway.service_layer.webhooks import context_from, delivery_worker
from provider_gateway.settings import GatewaySettings
from samspil.runtime.http import Problem, create_app, problem_responses
from samspil.runtime.service import ServiceRuntime
from schemas.topics import PROVIDER_REPORTS

SERVICE_NAME = "provider-gateway"
DESCRIPTION = (
    "Providers receive referrals here and report absence, progress, readiness and plan-change "
    "requests back to the departments."
)


def build_app(settings: GatewaySettings) -> FastAPI:
    report_connections = ReportConnections(settings.database_url, settings.report_connections)
    webhook_context = context_from(settings)
    runtime = ServiceRuntime(
        name=SERVICE_NAME,
        settings=settings,
        migration_packages=["provider_gateway.migrations"],
        subscription=consumers.subscription(),
        publishes=[PROVIDER_REPORTS],
        description=DESCRIPTION,
        workers={
            "retention": scheduler.retention_worker(settings),
            "report-connections": report_connections.keep_open,
            "webhook-deliveries": delivery_worker(settings, webhook_context),
        },
    )
    # Providers are outside parties: their trace context is not continued. The portal's forms on
    # a referral show a CPR number's refusal by its field (`portal.actions`).
    app = create_app(
        runtime,
        title="Samspil provider gateway",
        description=DESCRIPTION,
        continue_callers_trace=False,
        # A portal password may hold any ten digits: it is only ever hashed, never stored or shown.
        cpr_allowed={("POST", "/portal/login"): frozenset({"body.password"})},
        cpr_forms_to_routes=(PORTAL_REFERRAL_FORMS,),
    )
    app.state.settings = settings
    app.state.webhooks = webhook_context
    # A disabled client's refused body is answered 401, not 422 (the client check comes late).
    app.add_exception_handler(RequestValidationError, client_before_refusal)
    app.add_exception_handler(Problem, client_before_refusal)
    app.state.rate_limiter = RateLimiter(
        rate=settings.rate_limit_per_second,
        burst=settings.rate_limit_burst,
        max_buckets=settings.rate_limit_max_buckets,
    )
    app.state.anonymous_limiter = RateLimiter(
        rate=settings.anonymous_rate_per_second,
        burst=settings.anonymous_burst,
        max_buckets=settings.rate_limit_max_buckets,
    )
    app.state.referral_citizens = ReferralCitizens()
    app.state.verified_tokens = VerifiedTokens(settings)
    app.state.report_connections = report_connections
    app.add_middleware(BodyRules)
    app.add_middleware(TokenIdentity)  # names the caller before BodyRules may refuse
    app.state.address_limiter = RateLimiter(
        rate=settings.address_rate_per_second,
        burst=settings.address_burst,
        max_buckets=settings.rate_limit_max_buckets,
    )
    app.add_middleware(AuditTrail)  # wraps the others and sees their refusals
    app.add_middleware(AddressLimit)  # added last: a flood is refused before it costs anything
    responses = problem_responses(400, 401, 404, 409, 413, 415, 422, 429, 503)
    app.include_router(tokens.router, responses=responses)
    app.include_router(http.router, responses=responses)
    app.include_router(webhooks.router, responses=responses)
    install_portal(app, settings)  # the provider portal's pages under /portal
    return app
