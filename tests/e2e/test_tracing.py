"""Tracing end to end: the services, each in its own process, export their spans over OTLP/HTTP to
a receiver in the test (tests/otlp.py), and one provider report is one trace from the gateway's
HTTP span to the task the jobcenter creates, through the outbox, the relay and Kafka."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable

import pytest

from schemas.cpr import contains_cpr
from schemas.topics import PROVIDER_REPORTS
from tests.e2e.conftest import RunningStack
from tests.e2e.test_first_flow import provider_client, refer, visible_to_provider
from tests.otlp import OtlpReceiver, ReceivedSpan
from tests.support import citizen_ref, encoded_notice, produce, random_cpr, wait_for

pytestmark = pytest.mark.e2e

GATEWAY, EMPLOYMENT = "provider-gateway", "employment"
CALLERS_TRACE_ID = "ab12cd34ef56ab78cd90ef12ab34cd58"
CALLERS_TRACEPARENT = f"00-{CALLERS_TRACE_ID}-ab12cd34ef56ab7a-01"


def one(spans: list[ReceivedSpan], what: str, matches: Callable[[ReceivedSpan], bool]) -> ReceivedSpan:
    found = [span for span in spans if matches(span)]
    assert len(found) == 1, f"{what}: {len(found)} spans, in {[(s.service, s.name) for s in spans]}"
    return found[0]


def statement(span: ReceivedSpan) -> str:
    return str(span.attributes.get("db.statement") or span.attributes.get("db.query.text") or "")


def ancestors(span: ReceivedSpan, by_id: dict[str, ReceivedSpan]) -> list[ReceivedSpan]:
    chain = []
    while span.parent_span_id:
        span = by_id[span.parent_span_id]
        chain.append(span)
    return chain


async def test_an_absence_notice_is_one_trace_from_the_gateway_request_to_the_jobcenter_task(
    running_stack: RunningStack, otlp_receiver: OtlpReceiver
) -> None:
    provider = f"aktivcenter-{uuid.uuid4().hex[:6]}"
    referral_id = await refer(running_stack, provider)
    async with provider_client(running_stack, provider) as gateway:
        await wait_for(lambda: visible_to_provider(gateway, referral_id))
        response = await gateway.post(
            f"/v1/referrals/{referral_id}/absence-notices",
            json={"absent_from": "2026-11-16", "reason": "illness", "contact_attempts": []},
            # A provider's own trace context is not continued: the gateway starts the trace.
            headers={"traceparent": CALLERS_TRACEPARENT, "tracestate": "provider=x"},
        )
        assert response.status_code == 202, response.text
    path = f"/v1/referrals/{referral_id}/absence-notices"

    async def request_span() -> ReceivedSpan | None:
        return next(
            (
                span
                for span in otlp_receiver.all_spans()
                if span.kind == "server" and path in str(span.attributes.get("http.target", ""))
            ),
            None,
        )

    server = await wait_for(request_span)
    assert server.service == GATEWAY
    assert server.parent_span_id == "" and server.trace_state == ""  # the gateway starts the trace
    assert server.trace_id != CALLERS_TRACE_ID
    assert server.attributes["http.route"] == "/v1/referrals/{referral_id}/absence-notices"

    async def whole_trace() -> list[ReceivedSpan] | None:
        spans = otlp_receiver.trace(server.trace_id)
        ids = {span.span_id for span in spans}
        # Complete once every span named below arrived (each service exports on its own
        # schedule) and every parent with it.
        complete = all(any(map(matches, spans)) for matches in expected.values()) and all(
            span.parent_span_id in ids for span in spans if span.parent_span_id
        )
        return spans if complete else None

    expected: dict[str, Callable[[ReceivedSpan], bool]] = {
        "the gateway's outbox insert": lambda s: (
            s.service == GATEWAY and statement(s).startswith("INSERT INTO outbox")
        ),
        "the gateway relay's publish": lambda s: (
            s.service == GATEWAY
            and s.kind == "producer"
            and s.attributes.get("messaging.destination.name") == PROVIDER_REPORTS.name
        ),
        "the employment handler": lambda s: (
            s.service == EMPLOYMENT
            and s.kind == "consumer"
            and s.attributes.get("messaging.destination.name") == PROVIDER_REPORTS.name
        ),
        "the inbox insert": lambda s: (
            s.service == EMPLOYMENT and statement(s).startswith("INSERT INTO inbox")
        ),
        "the task insert": lambda s: (
            s.service == EMPLOYMENT and statement(s).startswith("INSERT INTO caseworker_task")
        ),
        # The follow-on event the handler wrote (the report received) carries the trace on.
        "the gateway's handling of the jobcenter's answer": lambda s: (
            s.service == GATEWAY and s.kind == "consumer"
        ),
    }
    spans = await wait_for(whole_trace, timeout=60.0)
    by_id = {span.span_id: span for span in spans}
    # One tree: the request's span is its only root.
    assert [span for span in spans if not span.parent_span_id] == [server]
    outbox_write, publish, handled, inbox, task, answer_handled = (
        one(spans, what, matches) for what, matches in expected.items()
    )
    assert outbox_write.parent_span_id == server.span_id
    assert publish.parent_span_id == server.span_id
    assert publish.attributes["cloudevents.event_type"] == handled.attributes["cloudevents.event_type"]
    assert handled.parent_span_id == publish.span_id
    assert handled.attributes["samspil.outcome"] == "processed"
    assert handled in ancestors(inbox, by_id) and handled in ancestors(task, by_id)
    assert [span.name for span in reversed(ancestors(task, by_id))][:3] == [
        server.name,
        publish.name,
        handled.name,
    ]
    assert handled in ancestors(answer_handled, by_id)
    assert "received" in answer_handled.attributes["cloudevents.event_type"]
    # Statements only: never a query's parameters.
    assert not any("db.statement.parameters" in span.attributes for span in spans)


async def test_a_record_with_a_malformed_traceparent_is_handled_in_a_new_trace(
    running_stack: RunningStack, otlp_receiver: OtlpReceiver
) -> None:
    envelope, record = encoded_notice()
    headers = [*record.headers, ("ce_traceparent", b"00-not-a-trace-context-01"), ("ce_tracestate", b"x=y")]
    await produce(running_stack.env["KAFKA_BOOTSTRAP_SERVERS"], dataclasses.replace(record, headers=headers))

    async def handled() -> ReceivedSpan | None:
        return next(
            (
                span
                for span in otlp_receiver.all_spans()
                if span.service == EMPLOYMENT
                and span.kind == "consumer"
                and span.attributes.get("cloudevents.event_id") == str(envelope.id)
            ),
            None,
        )

    span = await wait_for(handled, timeout=60.0)
    assert span.attributes["samspil.outcome"] == "processed"  # not dead-lettered
    assert span.parent_span_id == "" and span.trace_state == ""

    async def task_inserted() -> bool:
        return any(
            statement(s).startswith("INSERT INTO caseworker_task") for s in otlp_receiver.trace(span.trace_id)
        )

    assert await wait_for(task_inserted)


async def test_a_request_refused_for_a_cpr_number_leaves_none_in_any_exported_span(
    running_stack: RunningStack, otlp_receiver: OtlpReceiver
) -> None:
    cpr = random_cpr()
    marker = uuid.uuid4().hex
    provider = f"skole-{uuid.uuid4().hex[:6]}"
    async with provider_client(running_stack, provider) as gateway:
        refused = await gateway.get(
            f"/v1/referrals/{cpr}/x{marker}", params={"q": cpr, "plain": cpr.replace("-", "")}
        )
    async with running_stack.employment() as employment:
        refused_too = await employment.get(f"/v1/citizens/{cpr}/x{marker}", params={"note": cpr})
    assert refused.status_code == refused_too.status_code == 422

    async def refused_spans() -> list[ReceivedSpan] | None:
        found = [
            span
            for span in otlp_receiver.all_spans()
            if span.kind == "server" and any(marker in text for text in span.texts())
        ]
        services = {span.service for span in found}
        return found if {GATEWAY, EMPLOYMENT} <= services else None

    for span in await wait_for(refused_spans):
        assert span.attributes.get("http.status_code") == 422
        assert "[cpr-masked]" in " ".join(span.texts())
    # Nor in any span any service exported so far, in this test or any other.
    leaking = [
        (span.service, span.name)
        for span in otlp_receiver.all_spans()
        if any(map(contains_cpr, span.texts()))
    ]
    assert leaking == []
    assert all(cpr not in text for span in otlp_receiver.all_spans() for text in span.texts())


async def test_a_department_continues_its_callers_traceparent_but_not_its_tracestate(
    running_stack: RunningStack, otlp_receiver: OtlpReceiver
) -> None:
    trace_id = callers_trace_id()
    subject = citizen_ref()
    async with running_stack.employment() as employment:
        response = await employment.get(
            "/v1/tasks",
            params={"citizen_ref": subject},
            headers={"traceparent": f"00-{trace_id}-ab12cd34ef56ab7a-01", "tracestate": "casesystem=a1"},
        )
    assert response.status_code == 200, response.text

    async def request_span() -> ReceivedSpan | None:
        spans = otlp_receiver.trace(trace_id)
        return next((span for span in spans if span.kind == "server"), None)

    server = await wait_for(request_span)
    assert (server.service, server.name) == (EMPLOYMENT, "GET /v1/tasks")
    # The caller's trace, none of its tracestate (free text the outbox would carry on).
    assert (server.parent_span_id, server.trace_state) == ("ab12cd34ef56ab7a", "")
    # The URL is exported without its query (the citizen's reference).
    assert server.attributes["http.url"].endswith("/v1/tasks")
    assert not any(subject.split(":")[1] in text for text in server.texts())

    async def queries() -> list[ReceivedSpan]:
        return [span for span in otlp_receiver.trace(trace_id) if statement(span)]

    # Its database work belongs to that trace.
    assert all(span.parent_span_id == server.span_id for span in await wait_for(queries))


def callers_trace_id() -> str:
    """A caller's fresh trace id that does not read as a CPR number (the guard would drop it)."""
    while contains_cpr(trace_id := "ab" + uuid.uuid4().hex[2:]):
        pass
    return trace_id
