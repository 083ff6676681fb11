"""The provider's webhook endpoints and their deliveries, under /v1/webhooks, with its own token.

Not idempotent by key: a repeated registration makes a second endpoint (the provider lists and
deletes), and the answer that shows a secret is never kept anywhere to be replayed (nor cached:
Cache-Control no-store). Each change commits in the transaction of the request's audit row
(`guards.audited`)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Request, Response, status
from pydantic import BaseModel, Field

from provider_gateway.adapters import webhooks as store
from provider_gateway.adapters.webhook_sender import ResolverBusy
from provider_gateway.domain.webhooks import MAX_URL_LENGTH, FeedKind, RefusedUrl
from provider_gateway.entrypoints.auth import Provider
from provider_gateway.entrypoints.guards import audited
from provider_gateway.service_layer import webhooks
from samspil.runtime.db import Connection
from samspil.runtime.http import Problem
from samspil.runtime.paging import Cursor, Limit, Page, page_of, read_cursor
from schemas.common import ShortText, Strict

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])

Url = Annotated[
    str,
    Field(
        min_length=1,
        max_length=MAX_URL_LENGTH,
        description="Where to deliver: https, a host that resolves only to public addresses.",
        examples=["https://hooks.aktivcenter.example/samspil"],
    ),
]
EventKinds = Annotated[
    list[FeedKind],
    Field(
        min_length=1,
        max_length=len(FeedKind),
        description="The feed entries to deliver, by kind.",
        examples=[["referral-requested", "referral-cancelled"]],
    ),
]


class WebhookEndpointIn(Strict):
    url: Url
    event_kinds: EventKinds
    description: ShortText | None = None


class WebhookEndpointChange(Strict):
    """What to change; what is left out stays. ``enabled`` true enables an endpoint you or its
    failing deliveries disabled (not one an operator disabled); deliveries then resume with
    the next feed entry, and pending ones are tried again, with a new day before they are given
    up (on an endpoint enabled already it changes nothing). A new URL at a host where an
    operator disabled an endpoint of yours is refused (409)."""

    url: Url | None = None
    event_kinds: EventKinds | None = None
    description: ShortText | None = None
    enabled: bool | None = None


class WebhookEndpointOut(BaseModel):
    endpoint_id: uuid.UUID
    url: str
    event_kinds: list[FeedKind]
    description: str | None
    enabled: bool
    disabled_at: datetime | None
    disabled_by: Literal["provider", "operator", "deliveries"] | None = Field(
        description="Who disabled it: you, an operator, or the gateway after deliveries failed "
        "for a day (at least)."
    )
    disabled_reason: str | None = Field(description="Why it is disabled, e.g. the last failure.")
    created_at: datetime
    updated_at: datetime


class WebhookEndpointCreated(WebhookEndpointOut):
    secret: str = Field(
        description="The signing secret (Standard Webhooks, whsec_...). Shown only now; rotate it "
        "to get a new one.",
        examples=["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
    )


class WebhookSecret(BaseModel):
    endpoint_id: uuid.UUID
    secret: str = Field(description="The new signing secret, in force from the next attempt. Shown only now.")


class WebhookEndpointPage(Page[WebhookEndpointOut]):
    pass


class WebhookDeliveryOut(BaseModel):
    delivery_id: uuid.UUID
    webhook_id: uuid.UUID = Field(
        description="The webhook-id header and the CloudEvent's id: the same on every attempt "
        "and redelivery of the entry."
    )
    kind: FeedKind
    referral_id: uuid.UUID | None
    submission_id: uuid.UUID | None
    status: Literal["pending", "delivered", "failed"] = Field(
        description="pending (to be attempted or retried), delivered (answered 2xx), failed "
        "(given up after a day of retries)."
    )
    attempts: int
    next_attempt_at: datetime | None = Field(description="While pending: when it is next attempted.")
    last_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    delivered_at: datetime | None
    created_at: datetime


class WebhookDeliveryPage(Page[WebhookDeliveryOut]):
    pass


def _endpoint_out(row: Any) -> WebhookEndpointOut:
    fields = {name: row[name] for name in WebhookEndpointOut.model_fields if name != "enabled"}
    return WebhookEndpointOut(**fields, enabled=row["disabled_at"] is None)


def _delivery_out(row: Any) -> WebhookDeliveryOut:
    fields = {name: row[name] for name in WebhookDeliveryOut.model_fields if name in row.keys()}
    fields["webhook_id"] = row["message_id"]
    if row["status"] != "pending":
        fields["next_attempt_at"] = None
    return WebhookDeliveryOut(**fields)


def _no_such_endpoint() -> Problem:
    return Problem(404, "not-found", "No such webhook endpoint")


def _refused_url(refused: RefusedUrl) -> Problem:
    return Problem(
        422,
        "validation-failed",
        "The request is not valid",
        errors=[{"field": "body.url", "message": str(refused), "code": "url-refused"}],
    )


def _blocked(blocked: webhooks.BlockedByOperator) -> Problem:
    return Problem(
        409,
        "blocked-by-operator",
        "An operator disabled an endpoint of yours at this URL's host; ask them to lift the block",
        disabled_reason=blocked.reason,
        endpoint_id=str(blocked.endpoint_id),
        host=blocked.host,
    )


def _resolver_busy() -> Problem:
    return Problem(
        503,
        "try-again",
        "The URL's host could not be looked up now; send the request again",
        headers={"Retry-After": "5"},
    )


async def _check_url(context: webhooks.WebhookContext, url: str, provider_id: str) -> None:
    try:
        await webhooks.check_url(context, url, provider_id)
    except RefusedUrl as refused:
        raise _refused_url(refused) from None
    except ResolverBusy:
        raise _resolver_busy() from None


_NO_STORE = "no-store"  # an answer that shows a secret


def _context(request: Request) -> webhooks.WebhookContext:
    context: webhooks.WebhookContext = request.app.state.webhooks
    return context


@router.post("", status_code=status.HTTP_201_CREATED, response_model=WebhookEndpointCreated)
async def register_webhook_endpoint(
    body: WebhookEndpointIn, request: Request, response: Response, provider: Provider
) -> WebhookEndpointCreated:
    """Register an endpoint for the feed entries of the kinds you name. Each is delivered as a
    CloudEvent (structured mode, application/cloudevents+json) signed per Standard Webhooks
    with the secret in this answer, shown only now."""
    context = _context(request)
    await _check_url(context, body.url, provider.provider_id)

    async def register(conn: Connection) -> tuple[Any, str]:
        return await webhooks.register_endpoint(
            conn,
            context,
            provider.provider_id,
            body.url,
            [kind.value for kind in dict.fromkeys(body.event_kinds)],
            body.description,
        )

    try:
        row, secret = await audited(request, status.HTTP_201_CREATED, register)
    except webhooks.TooManyEndpoints:
        raise Problem(
            409,
            "too-many-endpoints",
            f"At most {context.max_endpoints} webhook endpoints; delete one first",
        ) from None
    except webhooks.BlockedByOperator as blocked:
        raise _blocked(blocked) from None
    response.headers["Cache-Control"] = _NO_STORE
    return WebhookEndpointCreated(**_endpoint_out(row).model_dump(), secret=secret)


@router.get("", response_model=WebhookEndpointPage)
async def list_webhook_endpoints(
    request: Request, provider: Provider, cursor: Cursor = None, limit: Limit = 100
) -> WebhookEndpointPage:
    """Your endpoints, oldest first."""
    after = (
        read_cursor(cursor, lambda key: (datetime.fromisoformat(key[0]), uuid.UUID(key[1])))
        if cursor
        else None
    )
    rows = await store.endpoints_for_provider(
        request.app.state.runtime.pool, provider.provider_id, after, limit + 1
    )
    page = page_of(
        rows, limit, _endpoint_out, lambda row: [row["created_at"].isoformat(), str(row["endpoint_id"])]
    )
    return WebhookEndpointPage(items=page.items, next_cursor=page.next_cursor)


@router.get("/{endpoint_id}", response_model=WebhookEndpointOut)
async def get_webhook_endpoint(
    endpoint_id: uuid.UUID, request: Request, provider: Provider
) -> WebhookEndpointOut:
    """An endpoint, with whether it is enabled and, if not, who disabled it and why."""
    row = await store.endpoint_for_provider(request.app.state.runtime.pool, endpoint_id, provider.provider_id)
    if row is None:
        raise _no_such_endpoint()
    return _endpoint_out(row)


@router.patch("/{endpoint_id}", response_model=WebhookEndpointOut)
async def change_webhook_endpoint(
    endpoint_id: uuid.UUID, body: WebhookEndpointChange, request: Request, provider: Provider
) -> WebhookEndpointOut:
    """Change an endpoint's URL, kinds or description, or enable or disable it."""
    context = _context(request)
    if body.url is not None:
        await _check_url(context, body.url, provider.provider_id)

    async def change(conn: Connection) -> Any:
        found, disabled_at = await store.endpoint_disabled_at(conn, endpoint_id, provider.provider_id)
        if not found:
            raise _no_such_endpoint()
        if body.url is not None:
            await webhooks.refuse_blocked(conn, provider.provider_id, body.url)
        kinds = [kind.value for kind in dict.fromkeys(body.event_kinds)] if body.event_kinds else None
        row = await store.update_endpoint(
            conn,
            endpoint_id,
            provider.provider_id,
            url=body.url,
            event_kinds=kinds,
            description=body.description,
            set_description="description" in body.model_fields_set,
            enabled=body.enabled,
        )
        if row is None:
            existing = await store.endpoint_for_provider(conn, endpoint_id, provider.provider_id)
            raise Problem(
                409,
                "disabled-by-operator",
                "An operator disabled this endpoint; ask them to enable it",
                disabled_reason=existing["disabled_reason"] if existing is not None else None,
            )
        if body.enabled and disabled_at is not None:
            # Enabled again (not one enabled already: that would restart its day of retries).
            await store.resume_pending(conn, endpoint_id)
        return row

    try:
        row = await audited(request, status.HTTP_200_OK, change)
    except webhooks.BlockedByOperator as blocked:
        raise _blocked(blocked) from None
    return _endpoint_out(row)


@router.delete("/{endpoint_id}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
async def delete_webhook_endpoint(endpoint_id: uuid.UUID, request: Request, provider: Provider) -> Response:
    """Delete an endpoint with its deliveries; nothing more is sent to it. One an operator
    disabled keeps its host blocked for you until they enable it."""

    async def delete(conn: Connection) -> None:
        if not await store.delete_endpoint(conn, endpoint_id, provider.provider_id):
            raise _no_such_endpoint()

    await audited(request, status.HTTP_204_NO_CONTENT, delete)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{endpoint_id}/rotate-secret", response_model=WebhookSecret)
async def rotate_webhook_secret(
    endpoint_id: uuid.UUID, request: Request, response: Response, provider: Provider
) -> WebhookSecret:
    """A new signing secret for the endpoint, used from the next attempt on; the old one signs
    nothing more."""

    async def rotate(conn: Connection) -> str:
        secret = await webhooks.rotate_secret(conn, _context(request), endpoint_id, provider.provider_id)
        if secret is None:
            raise _no_such_endpoint()
        return secret

    secret = await audited(request, status.HTTP_200_OK, rotate)
    response.headers["Cache-Control"] = _NO_STORE
    return WebhookSecret(endpoint_id=endpoint_id, secret=secret)


@router.get("/{endpoint_id}/deliveries", response_model=WebhookDeliveryPage)
async def list_webhook_deliveries(
    endpoint_id: uuid.UUID, request: Request, provider: Provider, cursor: Cursor = None, limit: Limit = 100
) -> WebhookDeliveryPage:
    """The endpoint's deliveries, newest first, with their status (delivered and given-up ones
    are kept for a while, then purged)."""
    pool = request.app.state.runtime.pool
    if await store.endpoint_for_provider(pool, endpoint_id, provider.provider_id) is None:
        raise _no_such_endpoint()
    before = read_cursor(cursor, lambda key: int(key[0])) if cursor else None
    rows = await store.deliveries_for_endpoint(pool, endpoint_id, before, limit + 1)
    page = page_of(rows, limit, _delivery_out, lambda row: [row["seq"]])
    return WebhookDeliveryPage(items=page.items, next_cursor=page.next_cursor)


@router.post(
    "/{endpoint_id}/deliveries/{delivery_id}/redeliver",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=WebhookDeliveryOut,
)
async def redeliver_webhook(
    endpoint_id: uuid.UUID, delivery_id: uuid.UUID, request: Request, provider: Provider
) -> WebhookDeliveryOut:
    """Deliver the same entry again (same webhook-id), as a new delivery due now, after any
    pending one for its referral."""

    async def again(conn: Connection) -> Any:
        if await store.endpoint_for_provider(conn, endpoint_id, provider.provider_id) is None:
            raise _no_such_endpoint()
        row = await store.redeliver(conn, endpoint_id, delivery_id)
        if row is None:
            raise Problem(404, "not-found", "No such delivery")
        return row

    return _delivery_out(await audited(request, status.HTTP_202_ACCEPTED, again))
