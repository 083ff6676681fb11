"""Tracing's set-up and its privacy rules, without a collector: which exporter a process gets,
ids that never read as a CPR number, carried contexts that hold one ignored, and the exporter
masking any that a span recorded."""

from __future__ import annotations

import random
import re
import time
from collections import Counter

import httpx
import pytest
import structlog.testing
from fastapi import FastAPI
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.id_generator import IdGenerator, RandomIdGenerator
from opentelemetry.trace import Link, NonRecordingSpan, SpanContext, SpanKind, TraceFlags, TraceState

from samspil.runtime import tracing
from samspil.runtime.codec import decode_envelope, encode, extension_attributes
from samspil.runtime.tracing import (
    CprFreeIdGenerator,
    CprMaskingExporter,
    build_tracer_provider,
    configure_tracing,
    context_from,
    context_from_headers,
    current_trace_context,
    masked_span,
    span_exporter,
    trace_headers,
    with_trace_headers,
)
from schemas.cpr import contains_cpr
from tests.otlp import hanging_collector
from tests.support import absence_notice, random_cpr

TRACE_ID, SPAN_ID = 0xAB12CD34EF56AB78CD90EF12AB34CD56, 0xAB12CD34EF56AB78
TRACEPARENT = f"00-{TRACE_ID:032x}-{SPAN_ID:016x}-01"


def test_without_an_otlp_endpoint_no_exporter_is_configured_and_nothing_is_set_up() -> None:
    assert span_exporter({}) is None
    assert span_exporter({"OTEL_EXPORTER_OTLP_ENDPOINT": ""}) is None
    assert configure_tracing("employment", {}) is None
    assert not tracing.tracing_configured()
    assert not isinstance(trace.get_tracer_provider(), TracerProvider)


@pytest.mark.parametrize(
    "variables",
    [
        {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"},
        {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"},
    ],
)
def test_an_otlp_endpoint_gives_the_otlp_http_exporter_behind_the_cpr_mask(variables: dict[str, str]) -> None:
    exporter = span_exporter(variables)
    assert isinstance(exporter, CprMaskingExporter)
    assert isinstance(exporter._exporter, OTLPSpanExporter)


@pytest.mark.parametrize(
    "switch", [{"OTEL_SDK_DISABLED": "true"}, {"OTEL_SDK_DISABLED": "TRUE"}, {"OTEL_TRACES_EXPORTER": "none"}]
)
def test_a_disabled_sdk_or_no_traces_exporter_exports_nothing_even_with_an_endpoint(
    switch: dict[str, str],
) -> None:
    assert span_exporter({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318", **switch}) is None


def test_an_exporter_or_sampler_this_service_does_not_offer_is_named_in_one_warning_and_replaced() -> None:
    endpoint = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}
    with structlog.testing.capture_logs() as logs:
        exporter = span_exporter({**endpoint, "OTEL_TRACES_EXPORTER": "zipkin"})
        provider = build_tracer_provider("employment", None, {"OTEL_TRACES_SAMPLER": "parentbased_jaeger"})
    assert isinstance(exporter, CprMaskingExporter)
    assert "AlwaysOnSampler" in provider.sampler.get_description()
    assert [(entry["log_level"], entry.get("exporter"), entry.get("sampler")) for entry in logs] == [
        ("warning", "zipkin", None),
        ("warning", None, "parentbased_jaeger"),
    ]
    with structlog.testing.capture_logs() as quiet:
        span_exporter({**endpoint, "OTEL_TRACES_EXPORTER": "otlp"})
        build_tracer_provider("employment", None, {"OTEL_TRACES_SAMPLER": "parentbased_traceidratio"})
    assert quiet == []


def test_each_service_names_itself_unless_otel_service_name_says_otherwise() -> None:
    provider = build_tracer_provider("provider-gateway", None, {})
    assert provider.resource.attributes["service.name"] == "provider-gateway"
    assert provider.resource.attributes["service.namespace"] == "samspil"
    assert isinstance(provider.id_generator, CprFreeIdGenerator)


def traceparents(ids: IdGenerator, count: int) -> list[str]:
    return [f"00-{ids.generate_trace_id():032x}-{ids.generate_span_id():016x}-01" for _ in range(count)]


class SeededRandomIds(RandomIdGenerator):
    """The SDK's random ids (uniform bits), from a generator of their own: the process's global
    random state is left alone."""

    def __init__(self, seed: int) -> None:
        self._random = random.Random(seed)

    def generate_span_id(self) -> int:
        return self._random.getrandbits(64)

    def generate_trace_id(self) -> int:
        return self._random.getrandbits(128)


def test_generated_ids_never_read_as_a_cpr_number_though_plain_random_ones_do() -> None:
    plain = traceparents(SeededRandomIds(11), 20_000)
    # About one in 500: the envelope would refuse those events (a CPR number in ce_traceparent).
    assert sum(map(contains_cpr, plain)) > 5
    ours = traceparents(CprFreeIdGenerator(), 20_000)
    assert not [value for value in ours if contains_cpr(value)]
    assert len(set(ours)) == len(ours)


def test_generated_ids_begin_and_end_with_a_letter_each_letter_about_as_often(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    checked: list[str] = []

    def detector(value: str) -> bool:
        checked.append(value)
        return contains_cpr(value)

    monkeypatch.setattr(tracing, "contains_cpr", detector)
    ids = [f"{CprFreeIdGenerator().generate_span_id():016x}" for _ in range(12_000)]
    edges = Counter(char for value in ids for char in (value[0], value[-1]))
    assert set(edges) == set("abcdef")
    # Uniform would be 1/6 (16.7 %) each; taking the nibble modulo 6 gave e and f 12.5 %.
    assert all(0.145 < count / (2 * len(ids)) < 0.19 for count in edges.values()), edges
    # The detector is run only on an id with ten decimal digits in a row (the only way hex
    # can read as a CPR number), about one in a thousand.
    assert all(re.search("[0-9]{10}", value) for value in checked)


def test_a_carried_context_is_continued_and_a_malformed_one_or_one_holding_a_cpr_number_is_ignored() -> None:
    continued = trace.get_current_span(context_from(TRACEPARENT, "samspil=a1")).get_span_context()
    assert (continued.trace_id, continued.span_id, continued.is_remote) == (TRACE_ID, SPAN_ID, True)
    assert continued.trace_state.get("samspil") == "a1"
    for traceparent, tracestate in [
        ("00-not-a-context-01", None),
        ("", None),
        (None, None),
        (TRACEPARENT, f"vendor={random_cpr().replace('-', '')}"),
        (f"00-{TRACE_ID:032x}-{random_cpr().replace('-', '')}abcdef-01", None),
    ]:
        context = context_from(traceparent, tracestate)
        assert not trace.get_current_span(context).get_span_context().is_valid, (traceparent, tracestate)
    headers = [("ce_traceparent", TRACEPARENT.encode()), ("ce_tracestate", b"samspil=a1")]
    assert trace.get_current_span(context_from_headers(headers)).get_span_context().trace_id == TRACE_ID


def split_cpr_trace_state() -> list[str]:
    """Two ``tracestate`` members, each harmless alone, that read as one CPR number joined."""
    digits = random_cpr().replace("-", "")
    return [f"vendor={digits[:6]}", f"{digits[6:]}@other=x"]


def test_a_cpr_number_split_across_two_tracestate_headers_is_not_continued() -> None:
    first, second = split_cpr_trace_state()
    assert not contains_cpr(first) and not contains_cpr(second)
    carrier = {"traceparent": [TRACEPARENT], "tracestate": [first, second]}
    harmless = {"traceparent": [TRACEPARENT], "tracestate": ["vendor=a1", "other=b2"]}
    propagator = tracing.CprSafeTraceContext()
    continued = trace.get_current_span(propagator.extract(harmless)).get_span_context()
    assert continued.trace_id == TRACE_ID and continued.trace_state.get("other") == "b2"
    ignored = trace.get_current_span(propagator.extract(carrier)).get_span_context()
    assert not ignored.is_valid


def test_a_trace_state_holding_a_cpr_number_across_two_members_is_not_exported() -> None:
    members = [tuple(member.split("=", 1)) for member in split_cpr_trace_state()]
    state = TraceState([(key, value) for key, value in members])
    context = SpanContext(TRACE_ID, SPAN_ID, False, TraceFlags(1), state)
    linked = SpanContext(TRACE_ID + 1, SPAN_ID, True, TraceFlags(1), state)
    span = ReadableSpan(name="process", context=context, links=[Link(linked)])
    masked = masked_span(span)
    assert masked.context is not None and masked.context.trace_state.to_header() == ""
    assert masked.context.trace_id == TRACE_ID
    assert [link.context.trace_state.to_header() for link in masked.links] == [""]


def test_the_current_context_becomes_the_records_ce_traceparent_which_the_envelope_accepts() -> None:
    assert current_trace_context() == (None, None)
    parent = SpanContext(TRACE_ID, SPAN_ID, True, TraceFlags(1), TraceState([("samspil", "a1")]))
    with trace.use_span(NonRecordingSpan(parent)):
        assert current_trace_context() == (TRACEPARENT, "samspil=a1")
        envelope, notice = absence_notice()
        record = encode(envelope, notice)
        headers = with_trace_headers([*record.headers, ("ce_traceparent", b"00-old")])
    assert [value for name, value in headers if name == "ce_traceparent"] == [TRACEPARENT.encode()]
    assert decode_envelope(headers) == envelope
    assert extension_attributes(headers) == {"traceparent": TRACEPARENT, "tracestate": "samspil=a1"}
    assert trace_headers() == []  # outside any span: no trace headers


def finished_span(**attributes: str) -> ReadableSpan:
    return recorded_span(attributes, failed=True)


def recorded_span(attributes: dict[str, str], *, failed: bool) -> ReadableSpan:
    exporter = InMemorySpanExporter()
    provider = build_tracer_provider("provider-gateway", None, {})
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span(
        f"GET /v1/referrals/{attributes.get('id', '')}", kind=SpanKind.SERVER, attributes=attributes
    ) as span:
        if failed:
            span.add_event("exception", {"exception.message": f"bad value {attributes.get('id', '')}"})
            span.set_status(trace.Status(trace.StatusCode.ERROR, f"refused {attributes.get('id', '')}"))
    (finished,) = exporter.get_finished_spans()
    return finished


def texts(span: ReadableSpan) -> list[str]:
    values = [span.name, span.status.description or ""]
    values += [str(value) for value in (span.attributes or {}).values()]
    values += [str(value) for event in span.events for value in (event.attributes or {}).values()]
    return values


def test_the_exporter_masks_a_cpr_number_wherever_a_span_recorded_one_url_encoded_too() -> None:
    cpr = random_cpr()
    recorded = finished_span(
        id=cpr,
        **{
            "http.target": f"/v1/referrals/{cpr}?q={cpr.replace('-', '%2D')}",
            "http.url": f"http://x/?a={cpr}",
        },
    )
    assert any(cpr in text for text in texts(recorded))
    masked = masked_span(recorded)
    assert not [text for text in texts(masked) if contains_cpr(text) or cpr in text]
    assert masked.attributes is not None and masked.attributes["http.target"] == "/v1/referrals/[cpr-masked]"
    assert masked.attributes["http.url"] == "http://x/"  # no query string is exported
    assert (masked.context, masked.parent, masked.kind) == (recorded.context, recorded.parent, recorded.kind)

    exported = InMemorySpanExporter()
    assert CprMaskingExporter(exported).export([recorded]).name == "SUCCESS"
    assert not [text for text in texts(exported.get_finished_spans()[0]) if contains_cpr(text)]


def test_a_value_holding_a_plain_and_a_url_encoded_cpr_number_has_both_masked() -> None:
    plain, encoded = random_cpr(), random_cpr()
    twice = random_cpr()
    agent = f"client/1.0 ({plain}) ref={encoded.replace('-', '%2D')} and {twice.replace('-', '%252D')}"
    recorded = finished_span(**{"user_agent.original": agent})
    masked = masked_span(recorded)
    assert masked.attributes is not None
    exported = str(masked.attributes["user_agent.original"])
    assert exported.count(tracing.MASK) == 3
    assert not [cpr for cpr in (plain, encoded, twice) if cpr[:6] in exported]


def test_a_span_without_a_cpr_number_is_exported_as_it_is() -> None:
    recorded = recorded_span({"id": "3f2b9c1e-0000-4000-8000-000000000001"}, failed=False)
    assert masked_span(recorded) is recorded


def test_an_exception_is_exported_as_its_type_without_its_message_or_stack_trace() -> None:
    cpr, note = random_cpr(), "borgeren var syg hele ugen"
    exporter = InMemorySpanExporter()
    provider = build_tracer_provider("employment", None, {})
    provider.add_span_processor(SimpleSpanProcessor(CprMaskingExporter(exporter)))

    class UniqueViolationError(Exception):
        pass

    detail = f"Key (cpr)=({cpr.replace('-', '')}) already exists. Failing row contains (k1:abc, {note})"
    try:
        with provider.get_tracer("test").start_as_current_span("INSERT", kind=SpanKind.CLIENT):
            raise UniqueViolationError(detail)
    except UniqueViolationError:
        pass
    (exported,) = exporter.get_finished_spans()
    (event,) = exported.events
    assert event.name == "exception"
    assert list(event.attributes or {}) == ["exception.type"]
    assert str((event.attributes or {})["exception.type"]).endswith("UniqueViolationError")
    assert exported.status.status_code == trace.StatusCode.ERROR
    assert exported.status.description == "UniqueViolationError"
    exported_texts = texts(exported)
    assert not [text for text in exported_texts if note in text or "k1:abc" in text or cpr[:6] in text]


def test_database_queries_outside_any_traced_work_start_no_trace_but_inside_one_are_recorded() -> None:
    provider = build_tracer_provider("employment", None, {})
    tracer = provider.get_tracer("test")
    query = {"db.system": "postgresql", "db.statement": "SELECT 1"}
    with tracer.start_as_current_span("SELECT", kind=SpanKind.CLIENT, attributes=query) as orphan:
        assert not orphan.is_recording()
    with tracer.start_as_current_span("process", kind=SpanKind.CONSUMER):
        with tracer.start_as_current_span("SELECT", kind=SpanKind.CLIENT, attributes=query) as child:
            assert child.is_recording()
    with tracer.start_as_current_span("POST /v1/things", kind=SpanKind.SERVER) as request:
        assert request.is_recording()


@pytest.fixture
def traced_api(monkeypatch: pytest.MonkeyPatch) -> InMemorySpanExporter:
    """Tracing set up as configure_tracing does for an API, exporting to memory."""
    exported = InMemorySpanExporter()
    provider = build_tracer_provider("employment", None, {})
    provider.add_span_processor(SimpleSpanProcessor(CprMaskingExporter(exported)))
    monkeypatch.setattr(tracing, "_provider", provider)
    return exported


def context_echoing_app() -> FastAPI:
    app = FastAPI()

    @app.get("/v1/context")
    async def context() -> dict[str, str | None]:
        traceparent, tracestate = current_trace_context()
        return {"traceparent": traceparent, "tracestate": tracestate}

    return app


async def get(app: FastAPI, headers: dict[str, str]) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as client:
        return await client.get("/v1/context", headers=headers)


async def test_a_department_api_continues_a_callers_traceparent_but_not_its_tracestate(
    traced_api: InMemorySpanExporter,
) -> None:
    app = context_echoing_app()
    tracing.instrument_app(app)
    answer = (await get(app, {"traceparent": TRACEPARENT, "tracestate": "vendor=free-text"})).json()
    # What add_event would store in the outbox row: the caller's trace, none of its text.
    assert answer["traceparent"].split("-")[1] == f"{TRACE_ID:032x}"
    assert answer["tracestate"] is None
    (server,) = [span for span in traced_api.get_finished_spans() if span.kind == SpanKind.SERVER]
    assert server.context is not None and server.context.trace_state.to_header() == ""


def test_shutdown_returns_instead_of_hanging_when_the_collector_never_answers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with hanging_collector() as endpoint:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
        # Each export would wait 30 s for the collector's answer.
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "30")
        exporter = span_exporter()
        provider = build_tracer_provider("employment", exporter)
        monkeypatch.setattr(tracing, "_provider", provider)
        monkeypatch.setattr(tracing, "_exporter", exporter)
        with provider.get_tracer("test").start_as_current_span("POST /v1/things", kind=SpanKind.SERVER):
            pass
        started = time.monotonic()
        tracing.shutdown_tracing(timeout=1.0)
        # A liveness bound, not a speed check: it returns rather than waiting out the export.
        assert time.monotonic() - started < 15
    assert not tracing.tracing_configured()
    # Nor does the SDK's exit hook wait for the collector again.
    assert provider._atexit_handler is None


def test_resource_attributes_from_the_environment_are_exported_with_cpr_numbers_masked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cpr = random_cpr()
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", f"deployment.environment=prod,owner={cpr}")
    provider = build_tracer_provider("employment", None, {})
    assert provider.resource.attributes["owner"] == tracing.MASK
    assert provider.resource.attributes["deployment.environment"] == "prod"
    assert provider.resource.attributes["service.name"] == "employment"


async def test_no_request_or_response_header_is_recorded_whatever_the_environment_asks(
    traced_api: InMemorySpanExporter, monkeypatch: pytest.MonkeyPatch
) -> None:
    for variable in ("REQUEST", "RESPONSE"):
        monkeypatch.setenv(f"OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_{variable}", ".*")
    monkeypatch.setenv("OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SANITIZE_FIELDS", "")
    app = context_echoing_app()
    tracing.instrument_app(app)
    assert (await get(app, {"Authorization": "Bearer s3cret-token", "X-Note": "private"})).status_code == 200
    (server,) = [span for span in traced_api.get_finished_spans() if span.kind == SpanKind.SERVER]
    assert not [key for key in server.attributes or {} if ".header." in key]
    assert not [text for text in texts(server) if "s3cret" in text or "private" in text]
