"""Tracing: OpenTelemetry in every service, exported over OTLP/HTTP when an endpoint is set.

:func:`configure_tracing` is called once per process, before the app is built. It sets up a
tracer provider with ``service.name`` set to the service (``OTEL_SERVICE_NAME`` overrides it),
the asyncpg instrumentation (statements only, never their parameters) and, in :func:`instrument_app`,
the FastAPI instrumentation. Nothing is set up, recorded or exported unless
``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` or ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set, and nothing at
all when ``OTEL_SDK_DISABLED=true`` or ``OTEL_TRACES_EXPORTER=none``. The exporter reads the
other standard ``OTEL_EXPORTER_OTLP_*`` variables (headers, certificate, timeout, compression).

Across Kafka the W3C trace context travels as the CloudEvents distributed-tracing extension,
the ``ce_traceparent`` and ``ce_tracestate`` headers: the outbox stores the context current when
its row is written, the relay's publish span continues it into the headers, and the consumer's
process span continues from them (see outbox.py and consumer.py). Without a tracer provider the
context still passes through unchanged.

No CPR number leaves in a span: the exporter masks every CPR number in span names, attributes,
events and status texts (an HTTP span of a request the CPR guard refused records its path), the
provider in its resource attributes (``OTEL_RESOURCE_ATTRIBUTES`` among them), and the exporter
exports URLs without their query strings; an exception is exported as its
type only (its message and stack trace quote values: PostgreSQL's DETAIL names the failing row),
and no HTTP header is recorded whatever ``OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_*`` say; a
carried context that holds one (a ``tracestate`` someone wrote) is ignored; and the ids this
process generates never read as one (random hex does, about one ``traceparent`` in 500, and the
envelope refuses a CPR number in any attribute).
The public gateway does not continue a caller's context at all; the other services' APIs
continue a caller's ``traceparent`` but drop its ``tracestate`` (free text the caller chose).

A database query outside any traced work (the relay's polling, the schedulers' scans) starts
no trace of its own; otherwise ``OTEL_TRACES_SAMPLER`` (parent-based) decides. An exporter other
than ``otlp`` or a sampler not named by the specification is logged once and replaced.
:func:`shutdown_tracing` returns within its bound however the collector behaves.
"""

from __future__ import annotations

import os
import random
import re
import threading
from collections.abc import Mapping, MutableMapping, Sequence
from typing import Any
from urllib.parse import unquote_plus

import structlog
from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.propagators.textmap import (
    CarrierT,
    Getter,
    Setter,
    TextMapPropagator,
    default_getter,
    default_setter,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan, TracerProvider
from opentelemetry.sdk.trace import Tracer as SdkTracer
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.sdk.trace.sampling import (
    Decision,
    ParentBased,
    Sampler,
    SamplingResult,
    TraceIdRatioBased,
)
from opentelemetry.trace import Link, SpanKind, Status, TraceState
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.util.types import Attributes

from schemas.cpr import contains_cpr, mask_cpr_numbers

TRACEPARENT = "traceparent"
TRACESTATE = "tracestate"
# The CloudEvents Kafka binding's names for the distributed-tracing extension's attributes.
TRACE_HEADERS = (f"ce_{TRACEPARENT}", f"ce_{TRACESTATE}")
# HTTP paths never traced: probes, asked every few seconds.
UNTRACED_PATHS = "/healthz$,/readyz$"
MASK = "[cpr-masked]"
# A regular expression no header name matches.
_NO_HEADER = "(?!)"

log = structlog.get_logger("samspil.tracing")

_provider: TracerProvider | None = None
_exporter: SpanExporter | None = None


def tracer() -> trace.Tracer:
    """The runtime's tracer (a no-op one while no provider is set up)."""
    return trace.get_tracer("samspil.runtime")


def export_configured(environ: Mapping[str, str] | None = None) -> bool:
    """Whether spans are to be exported: an OTLP endpoint is set, the SDK is not disabled and
    the traces exporter is not ``none``."""
    env = os.environ if environ is None else environ
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    if env.get("OTEL_TRACES_EXPORTER", "").strip().lower() == "none":
        return False
    return bool(
        env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "").strip()
        or env.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip()
    )


def span_exporter(environ: Mapping[str, str] | None = None) -> SpanExporter | None:
    """The OTLP/HTTP exporter (wrapped so no CPR number leaves), or None when nothing is to be
    exported."""
    env = os.environ if environ is None else environ
    if not export_configured(env):
        return None
    named = env.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if named not in ("", "otlp"):
        log.warning(
            "OTEL_TRACES_EXPORTER names an exporter this service does not offer; exporting over OTLP/HTTP",
            exporter=named[:100],
        )
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return CprMaskingExporter(OTLPSpanExporter())


def build_tracer_provider(
    service_name: str, exporter: SpanExporter | None, environ: Mapping[str, str] | None = None
) -> TracerProvider:
    """A provider for one service: its name on every span, CPR-free ids, database queries
    outside any traced work (the relay's polling, the schedulers' scans, probes) not recorded."""
    env = os.environ if environ is None else environ
    attributes: dict[str, str] = {"service.namespace": "samspil"}
    if not env.get("OTEL_SERVICE_NAME"):
        attributes["service.name"] = service_name
    provider = TracerProvider(
        resource=_masked_resource(Resource.create(attributes)),
        sampler=_OrphanQueriesDropped(_sampler_from(env)),
        id_generator=CprFreeIdGenerator(),
        # shutdown_tracing stops it within a bound; the SDK's own exit hook would wait for a
        # hanging collector again, unbounded.
        shutdown_on_exit=False,
    )
    if exporter is not None:
        provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


def _masked_resource(resource: Resource) -> Resource:
    """The resource (``OTEL_RESOURCE_ATTRIBUTES`` among its sources) with every CPR number in
    its attribute names and values masked: it is exported with every batch of spans."""

    def masked(value: Any) -> Any:
        if isinstance(value, str):
            return _masked_text(value)
        if isinstance(value, tuple | list):
            return tuple(_masked_text(item) if isinstance(item, str) else item for item in value)
        return value

    attributes = {_masked_text(key): masked(value) for key, value in resource.attributes.items()}
    if attributes == dict(resource.attributes):
        return resource
    return Resource(attributes, resource.schema_url)


def configure_tracing(service_name: str, environ: Mapping[str, str] | None = None) -> TracerProvider | None:
    """Set up tracing for this process (once, before the app is built); None when nothing is to
    be exported, and then nothing is recorded either."""
    global _provider, _exporter
    if not export_configured(environ):
        return None
    if _provider is not None:
        return _provider
    exporter = span_exporter(environ)
    if exporter is None:
        return None
    from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor

    _exporter = exporter
    _provider = build_tracer_provider(service_name, exporter, environ)
    trace.set_tracer_provider(_provider)
    propagate.set_global_textmap(CprSafeTraceContext())
    # Never the query parameters: they are what a CPR number would be passed as.
    AsyncPGInstrumentor(capture_parameters=False).instrument(tracer_provider=_provider)  # type: ignore[no-untyped-call]
    return _provider


def tracing_configured() -> bool:
    return _provider is not None


def records_spans(used: trace.Tracer) -> bool:
    """Whether spans made by this tracer are recorded (a tracer provider is set up), as against
    the API's no-op tracer: the hot paths skip per-record span work when they are not."""
    return isinstance(used, SdkTracer)


def shutdown_tracing(timeout: float = 2.0) -> None:
    """Export what is still buffered and stop, returning within about ``timeout`` seconds (and
    one more) however the collector behaves: away, the exporter would retry for its whole export
    timeout (10 s by default); hanging, the batch processor's own shutdown waits for the export
    under way. What is not exported by then is dropped."""
    global _provider, _exporter
    provider, exporter = _provider, _exporter
    if provider is None:
        return
    _provider = _exporter = None

    def flush_and_stop() -> None:
        provider.force_flush(int(timeout * 1000))
        provider.shutdown()

    # Beside, so a hanging export holds a daemon thread, not the service's exit.
    stopping = threading.Thread(target=flush_and_stop, name="otel-shutdown", daemon=True)
    stopping.start()
    stopping.join(timeout)
    if stopping.is_alive() and exporter is not None:
        # Ends a retry still waiting for the collector; an export blocked on the socket is left.
        exporter.shutdown()
        stopping.join(1.0)


def instrument_app(app: Any, *, continue_callers_trace: bool = True) -> None:
    """The FastAPI instrumentation on a service's API, when tracing is set up: one server span
    per request, named by its route, probes left out. Outermost, so a request a middleware
    refuses (the CPR guard's 422 among them) has its span too.

    ``continue_callers_trace=False`` (the public gateway) starts every request's trace anew: a
    caller's ``traceparent`` and ``tracestate`` are outside parties' text, which would otherwise
    be stored with the outbox rows and sent on to the departments, and a caller could ask for
    every span to be recorded. Otherwise the caller's ``traceparent`` is continued but never its
    ``tracestate``: that is free text the caller chose, which the outbox would carry on to
    another department."""
    if _provider is None:
        return
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor.instrument_app(
        app,
        tracer_provider=_provider,
        excluded_urls=UNTRACED_PATHS,
        exclude_spans=["receive", "send"],
        # No header is recorded, whatever OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_* say
        # (Authorization, cookies, a CPR number in a header). An empty list would fall back to
        # those variables, so: a pattern no header name matches, and every value redacted.
        http_capture_headers_server_request=[_NO_HEADER],
        http_capture_headers_server_response=[_NO_HEADER],
        http_capture_headers_sanitize_fields=[".*"],
    )
    dropped = (TRACESTATE,) if continue_callers_trace else (TRACEPARENT, TRACESTATE)
    instrumented = app.build_middleware_stack

    def build_middleware_stack() -> Any:
        return _WithoutTraceContext(instrumented(), dropped)

    app.build_middleware_stack = build_middleware_stack


class _WithoutTraceContext:
    """ASGI: the request without the named trace context headers."""

    def __init__(self, app: Any, dropped: Sequence[str]) -> None:
        self.app = app
        self._dropped = frozenset(name.encode() for name in dropped)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] in ("http", "websocket"):
            headers = [(name, value) for name, value in scope["headers"] if name.lower() not in self._dropped]
            scope = {**scope, "headers": headers}
        await self.app(scope, receive, send)


# --- the context on Kafka records -------------------------------------------------------------


class CprSafeTraceContext(TextMapPropagator):
    """W3C trace context, except that a carrier whose ``traceparent`` or ``tracestate`` holds a
    CPR number is ignored as a whole (the trace starts anew), so none is continued, stored in the
    outbox or sent on."""

    def __init__(self) -> None:
        self._w3c = TraceContextTextMapPropagator()

    def extract(
        self,
        carrier: CarrierT,
        context: Context | None = None,
        getter: Getter[CarrierT] = default_getter,
    ) -> Context:
        for name in (TRACEPARENT, TRACESTATE):
            # Joined as the W3C propagator joins several headers: a number split across two
            # of them is one in what would be continued.
            if contains_cpr(",".join(getter.get(carrier, name) or ())):
                return context if context is not None else Context()
        return self._w3c.extract(carrier, context, getter)

    def inject(
        self,
        carrier: CarrierT,
        context: Context | None = None,
        setter: Setter[CarrierT] = default_setter,
    ) -> None:
        written: dict[str, str] = {}
        self._w3c.inject(written, context)
        if any(contains_cpr(value) for value in written.values()):
            return
        for name, value in written.items():
            setter.set(carrier, name, value)

    @property
    def fields(self) -> set[str]:
        return {TRACEPARENT, TRACESTATE}


_PROPAGATOR = CprSafeTraceContext()


def current_trace_context() -> tuple[str | None, str | None]:
    """The current span's ``traceparent`` and ``tracestate`` (None where there is none), as the
    outbox stores them."""
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier)
    return carrier.get(TRACEPARENT), carrier.get(TRACESTATE) or None


def context_from(traceparent: str | None, tracestate: str | None) -> Context:
    """The context a stored or received ``traceparent``/``tracestate`` pair names; an empty one
    (a new trace) when it is missing, malformed or holds a CPR number."""
    carrier: dict[str, str] = {}
    if traceparent:
        carrier[TRACEPARENT] = traceparent
        if tracestate:
            carrier[TRACESTATE] = tracestate
    return _PROPAGATOR.extract(carrier, Context())


def context_from_headers(headers: Sequence[tuple[str, bytes | None]]) -> Context:
    """The context a Kafka record's ``ce_traceparent`` and ``ce_tracestate`` headers carry."""
    found: dict[str, str] = {}
    for name, raw in headers:
        if name in TRACE_HEADERS and name not in found:
            found[name] = (raw or b"").decode("utf-8", "replace")
    return context_from(found.get(TRACE_HEADERS[0]), found.get(TRACE_HEADERS[1]))


def trace_headers(context: Context | None = None) -> list[tuple[str, bytes]]:
    """``ce_traceparent`` (and ``ce_tracestate``) for the span current in ``context``."""
    carrier: MutableMapping[str, str] = {}
    _PROPAGATOR.inject(carrier, context)
    return [(f"ce_{name}", carrier[name].encode()) for name in (TRACEPARENT, TRACESTATE) if carrier.get(name)]


def with_trace_headers(
    headers: Sequence[tuple[str, bytes]], context: Context | None = None
) -> list[tuple[str, bytes]]:
    """The headers with their trace headers replaced by those of ``context``'s span."""
    return [(name, value) for name, value in headers if name not in TRACE_HEADERS] + trace_headers(context)


# --- ids, sampling, export ----------------------------------------------------------------------


class CprFreeIdGenerator(IdGenerator):
    """Random ids whose hex never reads as a CPR number, alone or in a ``traceparent``: each id
    begins and ends with a letter (so none joins a neighbour across a '-') and is drawn again
    while the detector finds one in it."""

    def generate_span_id(self) -> int:
        return _cpr_free_id(64)

    def generate_trace_id(self) -> int:
        return _cpr_free_id(128)

    def is_trace_id_random(self) -> bool:
        return True


# Within one id (hex: no spaces or separators between its digits) the detector can only read a
# CPR number in a run of exactly ten decimal digits; ids without a run of ten skip it.
_TEN_DIGITS = re.compile("[0-9]{10}")
_DECIMAL = frozenset("0123456789")


def _cpr_free_id(bits: int) -> int:
    width = bits // 4
    while True:
        digits = list(f"{random.getrandbits(bits):0{width}x}")
        # First and last a letter, so no run of digits joins a neighbour across a '-' in a
        # traceparent; a digit there is drawn again among a-f, a letter kept (no bias).
        for index in (0, -1):
            if digits[index] in _DECIMAL:
                digits[index] = random.choice("abcdef")
        text = "".join(digits)
        if _TEN_DIGITS.search(text) is None or not contains_cpr(text):
            return int(text, 16)


def _sampler_from(env: Mapping[str, str]) -> Sampler:
    """``OTEL_TRACES_SAMPLER``'s parent-based samplers (the default is parentbased_always_on)."""
    name = env.get("OTEL_TRACES_SAMPLER", "").strip().lower() or "parentbased_always_on"
    if name in ("parentbased_traceidratio", "traceidratio"):
        argument = env.get("OTEL_TRACES_SAMPLER_ARG", "1.0")
        try:
            ratio = float(argument)
        except ValueError:
            log.warning("OTEL_TRACES_SAMPLER_ARG is no number; sampling every trace", argument=argument[:100])
            ratio = 1.0
        return ParentBased(TraceIdRatioBased(min(1.0, max(0.0, ratio))))
    from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON

    if name not in _SAMPLERS:
        log.warning("OTEL_TRACES_SAMPLER names no known sampler; sampling every trace", sampler=name[:100])
    return ParentBased(ALWAYS_OFF if name in ("always_off", "parentbased_always_off") else ALWAYS_ON)


_SAMPLERS = frozenset(
    {
        "always_on",
        "always_off",
        "traceidratio",
        "parentbased_always_on",
        "parentbased_always_off",
        "parentbased_traceidratio",
    }
)


class _OrphanQueriesDropped(Sampler):
    """A database query outside any traced work starts no trace of its own."""

    def __init__(self, delegate: Sampler) -> None:
        self._delegate = delegate

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: TraceState | None = None,
    ) -> SamplingResult:
        parent = trace.get_current_span(parent_context).get_span_context()
        is_query = kind == SpanKind.CLIENT and any(
            name in (attributes or {}) for name in ("db.system", "db.system.name")
        )
        if is_query and not parent.is_valid:
            return SamplingResult(Decision.DROP)
        return self._delegate.should_sample(
            parent_context, trace_id, name, kind, attributes, links, trace_state
        )

    def get_description(self) -> str:
        return f"OrphanQueriesDropped{{{self._delegate.get_description()}}}"


class CprMaskingExporter(SpanExporter):
    """Masks every CPR number in what it exports: span names, attribute values (URL-encoded ones
    decoded first), events, links and status texts; a trace state holding one is dropped. URLs
    are exported without their query strings. Exception events keep only the exception's type
    and status texts only a type or outcome name: no message text leaves."""

    def __init__(self, exporter: SpanExporter) -> None:
        self._exporter = exporter
        self._shut_down = False

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return self._exporter.export([masked_span(span) for span in spans])

    def shutdown(self) -> None:
        if not self._shut_down:
            self._shut_down = True
            self._exporter.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._exporter.force_flush(timeout_millis)


# Recorded without their query strings: a query may name a citizen (by pseudonym) or hold text.
_URL_ATTRIBUTES = frozenset({"http.url", "http.target", "url.full"})
# What an exception event keeps: its type, never its message or stack trace.
_EXCEPTION_KEPT = frozenset({"exception.type", "error.type"})
# A status description is kept only as far as it names a type or an outcome ("IntegrityError",
# "dead-lettered"); the SDK writes "Type: message" for an exception that ends a span.
_STATUS_TYPE = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")


def _masked_text(value: str) -> str:
    """``value`` with its CPR numbers masked, then URL-decoded and masked again while decoding
    reveals one (a value may hold a plain number and an encoded one, or one encoded twice)."""
    current = mask_cpr_numbers(value, MASK)
    while "%" in current or "+" in current:
        decoded = unquote_plus(current)
        if decoded == current or not contains_cpr(decoded):
            break
        current = mask_cpr_numbers(decoded, MASK)
    return current


def _without_cpr_trace_state(context: trace.SpanContext) -> trace.SpanContext:
    """The context without its trace state when that holds a CPR number (read whole, as it is
    exported: a number may stand across two members)."""
    if not contains_cpr(context.trace_state.to_header()):
        return context
    return trace.SpanContext(
        context.trace_id, context.span_id, context.is_remote, context.trace_flags, TraceState()
    )


def _status_type(description: str) -> str | None:
    match = _STATUS_TYPE.match(description)
    if match is None:
        return None
    rest = description[match.end() :]
    return match.group() if not rest or rest.startswith(":") else None


def masked_span(span: ReadableSpan) -> ReadableSpan:
    """The span with every CPR number masked and no URL's query string; the span itself when it
    holds neither."""
    changed = False

    def text(value: str) -> str:
        nonlocal changed
        result = _masked_text(value)
        changed = changed or result != value
        return result

    def attrs(attributes: Attributes) -> dict[str, Any] | None:
        if attributes is None:
            return None
        result: dict[str, Any] = {}
        for key, value in attributes.items():
            if isinstance(value, str):
                result[text(key)] = text(value)
            elif isinstance(value, tuple | list):
                result[text(key)] = tuple(text(item) if isinstance(item, str) else item for item in value)
            else:
                result[text(key)] = value
        return result

    name = text(span.name)
    attributes = attrs(span.attributes)
    if attributes is not None:
        for key in _URL_ATTRIBUTES.intersection(attributes):
            value = attributes[key]
            if isinstance(value, str) and "?" in value:
                changed = True
                attributes[key] = value.split("?", 1)[0]
        if "url.query" in attributes:
            changed = True
            del attributes["url.query"]
    events = []
    for event in span.events:
        if event.name == "exception":
            # Only the type: an exception's message and stack quote values (PostgreSQL's DETAIL
            # names the failing row and the conflicting key, free-text notes among them).
            changed = True
            kept = {key: value for key, value in (event.attributes or {}).items() if key in _EXCEPTION_KEPT}
            events.append(Event("exception", attrs(kept), timestamp=event.timestamp))
        else:
            events.append(Event(text(event.name), attrs(event.attributes), timestamp=event.timestamp))
    links = []
    for link in span.links:
        link_context = _without_cpr_trace_state(link.context)
        changed = changed or link_context is not link.context
        links.append(Link(link_context, attrs(link.attributes)))
    status = span.status
    if status.description:
        description = _status_type(status.description)
        if description != status.description:
            changed = True
        status = Status(status.status_code, text(description) if description else None)
    context = span.context
    if context is not None:
        context = _without_cpr_trace_state(context)
        changed = changed or context is not span.context
    if not changed:
        return span
    return ReadableSpan(
        name=name,
        context=context,
        parent=span.parent,
        resource=span.resource,
        attributes=attributes,
        events=events,
        links=links,
        kind=span.kind,
        status=status,
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )
