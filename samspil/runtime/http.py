"""The HTTP side every service shares: lifespan wiring, health endpoints and RFC 9457
problem+json errors that name each failing field and never echo the input back.

Metrics are not on the API's listener (a provider could read them there): `serve` runs them on a
second, internal listener in the same process (``<PREFIX>METRICS_HOST``/``<PREFIX>METRICS_PORT``).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import re
import sys
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from typing import Any, Literal

import asyncpg
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from faststream.specification import get_asyncapi_html
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request as StarletteRequest
from starlette.responses import Response
from starlette.routing import Route

from samspil.runtime.api_docs import install_docs, install_finished_document, operation_id
from samspil.runtime.errors import Rejected
from samspil.runtime.metrics import RequestCounter, render
from samspil.runtime.service import ServiceRuntime, StartupProblem
from samspil.runtime.settings import RuntimeSettings
from samspil.runtime.tracing import instrument_app, shutdown_tracing
from schemas.common import RequiredBecause

log = structlog.get_logger("samspil.http")

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "https://samspil.dk/problems/"
# pydantic's tags for the branches of a union it tried: "list[ContactAttempt]", "constrained-int".
_UNION_TAG = re.compile(r"[\[\]]|^(constrained|function|lax-or-strict|json-or-python|nullable)-?")


class FieldError(BaseModel):
    field: str = Field(examples=["body.absent_from"])
    message: str
    code: str


class ProblemDetails(BaseModel):
    """An RFC 9457 problem: what went wrong, machine-readable, naming each failing field."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(examples=["https://samspil.dk/problems/validation-failed"])
    title: str
    status: int
    detail: str | None = None
    errors: list[FieldError] | None = None


class ConflictProblem(ProblemDetails):
    """A 409: the request does not fit the current state, e.g. a step its status forbids."""

    current_status: str | None = Field(
        default=None,
        description="The status that forbids the request, when a status does.",
        examples=["completed"],
    )


_RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before sending the request again.",
        "schema": {"type": "integer", "minimum": 0},
    }
}
_HEADERS: dict[int, dict[str, Any]] = {
    401: {
        "WWW-Authenticate": {
            "description": "The authentication scheme the API takes (RFC 9110 section 11.6.1).",
            "schema": {"type": "string", "examples": ['Bearer error="invalid_token"']},
        }
    },
    429: _RETRY_AFTER,
    503: _RETRY_AFTER,
}


class Health(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    status: Literal["ready", "not-ready"]
    checks: dict[str, str] = Field(examples=[{"database": "ok", "broker": "ok"}])
    notices: dict[str, str] | None = Field(
        default=None, description="Reported, not failed: what an operator should fix."
    )


def problem_responses(
    *statuses: int, descriptions: Mapping[int, str] | None = None
) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for problem answers, documented as application/problem+json, with the
    headers sent with them (``WWW-Authenticate`` on 401, ``Retry-After`` on 429 and 503) and a
    409's ``current_status``. ``descriptions`` words a status for the routes at hand."""
    titles = {
        400: "Bad request",
        401: "Authentication required",
        403: "Forbidden",
        404: "Not found",
        409: "Conflict with the current state",
        413: "Body too large",
        415: "Unsupported media type",
        422: "Invalid input",
        429: "Too many requests",
        500: "Unexpected error",
        503: "Not available now; send the request again after Retry-After seconds",
        **(descriptions or {}),
    }
    responses: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        model = ConflictProblem if status == 409 else ProblemDetails
        responses[status] = {
            "description": titles[status],
            "model": model,
            "content": {PROBLEM_JSON: {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}},
        }
        if status in _HEADERS:
            responses[status]["headers"] = _HEADERS[status]
    return responses


class Problem(Exception):
    """Raise to answer with a problem+json body, e.g. 404 or 409, from any route."""

    def __init__(
        self,
        status: int,
        kind: str,
        title: str,
        detail: str | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ):
        super().__init__(title)
        self.status = status
        self.kind = kind
        self.title = title
        self.detail = detail
        self.headers = headers
        self.extra = extra


def unauthorized(detail: str, challenge: str = "Bearer") -> Problem:
    """A 401 with the WWW-Authenticate challenge HTTP requires, the same problem type on every API."""
    return Problem(
        401, "unauthorized", "Authentication required", detail=detail, headers={"WWW-Authenticate": challenge}
    )


def problem_response(
    status: int,
    kind: str,
    title: str,
    detail: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body: dict[str, Any] = {"type": PROBLEM_BASE + kind, "title": title, "status": status}
    if detail:
        body["detail"] = detail
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _field_path(location: tuple[Any, ...]) -> str:
    # pydantic adds a tag per union branch tried ("constrained-int", "list[ContactAttempt]");
    # the client sent one field, so name that field.
    return ".".join(str(part) for part in location if not (isinstance(part, str) and _UNION_TAG.search(part)))


def problem_from_validation(error: ValidationError, prefix: str) -> Problem:
    """A model's validation error, raised while handling a request, as the same 422 answer."""
    fields = _fields(
        [
            {**item, "loc": (prefix, *item["loc"])}
            for item in error.errors(include_input=False, include_url=False)
        ]
    )
    return Problem(
        422,
        "validation-failed",
        "The request is not valid",
        detail="; ".join(f"{f['field']}: {f['message']}" for f in fields),
        errors=fields,
    )


def validation_problem(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    fields = _fields([_with_rule(item, _body_model(request)) for item in error.errors()])
    return problem_response(
        422,
        "validation-failed",
        "The request is not valid",
        detail="; ".join(f"{f['field']}: {f['message']}" for f in fields),
        errors=fields,
    )


def _body_model(request: Request) -> type[BaseModel] | None:
    route = request.scope.get("route")
    body = getattr(route, "body_field", None)
    model = getattr(getattr(body, "field_info", None), "annotation", None)
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def _with_rule(item: Any, model: type[BaseModel] | None) -> Any:
    """A body field left out that a rule makes required (`RequiredBecause`) is refused with the
    rule, as it is when sent null or blank, not with "Field required"."""
    location = tuple(item.get("loc", ()))
    if item.get("type") != "missing" or model is None or len(location) != 2 or location[0] != "body":
        return item
    field = model.model_fields.get(str(location[1]))
    rules = [meta.rule for meta in (field.metadata if field else []) if isinstance(meta, RequiredBecause)]
    return {**item, "msg": rules[0], "type": "required"} if rules else item


def _fields(errors: Sequence[Any]) -> list[dict[str, str]]:
    by_field: dict[str, dict[str, str]] = {}
    for item in errors:
        path = _field_path(tuple(item.get("loc", ())))
        message, code = item.get("msg", "invalid"), item.get("type", "invalid")
        if path in by_field:
            by_field[path]["message"] += f"; or {message}"
        else:
            by_field[path] = {"field": path, "message": message, "code": code}
    return list(by_field.values())


def _http_problem(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    return problem_response(error.status_code, f"http-{error.status_code}", str(error.detail))


def problem_handler(_: Request, error: Exception) -> JSONResponse:
    """The exception handler that answers a raised `Problem`."""
    assert isinstance(error, Problem)
    return problem_response(error.status, error.kind, error.title, error.detail, error.headers, **error.extra)


def _rejected(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, Rejected)
    extra: dict[str, Any] = dict(error.extra)
    if error.field:
        extra["errors"] = [{"field": error.field, "message": error.detail, "code": error.code}]
    return problem_response(error.status, error.code, error.detail, **extra)


def _invalid_data(_: Request, error: Exception) -> JSONResponse:
    # Input that passed validation but the database still refused (a safety net: the models
    # should have refused it first). Never a 500 for bad input.
    log.warning("database refused input", error=type(error).__name__)
    return problem_response(422, "invalid-input", "The request holds data that cannot be stored")


def _contended(_: Request, error: Exception) -> JSONResponse:
    # Two requests that waited for each other (a deadlock, a serialization failure): the
    # database rolled this one back whole, and the same request again succeeds.
    log.warning("request rolled back by the database, ask again", error=type(error).__name__)
    return problem_response(
        503,
        "contention",
        "The request met another at the same moment and was not carried out; send it again",
        headers={"Retry-After": "1"},
    )


def _database_away(_: Request, error: Exception) -> JSONResponse:
    # The connection went in the middle of the request: its work may or may not have been
    # committed. Sent again (with its Idempotency-Key, where it takes one), it is carried out
    # once or answered as its first attempt was.
    log.warning("database connection lost during the request", error=type(error).__name__)
    return problem_response(
        503,
        "database-unavailable",
        "The database could not be reached; send the request again",
        headers={"Retry-After": "1"},
    )


def _unexpected(_: Request, error: Exception) -> JSONResponse:
    log.error("unhandled error", exc_info=error)
    return problem_response(500, "internal-error", "Something went wrong on our side")


@asynccontextmanager
async def unit_of_work(request: Request) -> AsyncIterator[Any]:
    """One database transaction for one request: the change and the events it causes in the
    outbox, or nothing. A request sent with an Idempotency-Key to a keyed route does its work in
    the transaction that keeps the key and its answer (`samspil.runtime.idempotency`)."""
    from samspil.runtime.idempotency import held_request  # it answers with this module's problems

    held = held_request(request)
    if held is None:
        async with request.app.state.runtime.pool.acquire() as conn, conn.transaction():
            yield conn
        return
    conn = await held.claim_once(request)
    async with conn.transaction():  # a savepoint in the request's transaction
        yield conn


def create_app(
    runtime: ServiceRuntime,
    *,
    title: str,
    description: str,
    cpr_allowed: Mapping[tuple[str, str], frozenset[str]] | None = None,
    continue_callers_trace: bool = True,
    cpr_forms_to_routes: tuple[str, ...] = (),
) -> FastAPI:
    """The service's FastAPI app. ``cpr_allowed`` names the only body fields, by (method, path),
    where a CPR number may be sent (a department's enrolment); every other field, path, query
    parameter and stored header that holds one is refused with 422 before any route runs.
    ``continue_callers_trace``: whether a caller's W3C ``traceparent`` is continued (not on a
    public API). ``cpr_forms_to_routes``: path prefixes of web forms whose routes show a CPR
    number's refusal by the field themselves (see `cpr_guard.CprGuard`)."""
    from samspil.runtime.cpr_guard import CprGuard  # it answers with this module's problems

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        try:
            await runtime.start()
        except StartupProblem as problem:
            # One line that says what to fix, and not uvicorn's copy of the traceback after it.
            log.error("cannot start", problem=str(problem))
            logging.getLogger("uvicorn.error").addFilter(_without_traceback_of(StartupProblem))
            raise
        try:
            yield
        finally:
            await runtime.stop()

    app = FastAPI(
        title=title,
        description=description,
        version="1",
        lifespan=lifespan,
        responses=problem_responses(422, 500, 503),
        # One schema per model, not a "-Input" and an "-Output" twin of each (client generators
        # would make two classes of one name and drop one).
        separate_input_output_schemas=False,
        generate_unique_id_function=operation_id,
        docs_url=None,  # served by install_docs, from this package's files
        redoc_url=None,
        # FastAPI's own OpenTelemetry bridge stays off: tracing is `instrument_app`'s (with its
        # CPR masking, no headers, probes left out), and the bridge only deferred to it. Left
        # on, it asked on every request whether a provider was set up (2 % of the gateway's
        # CPU per report), and FASTAPI_OTEL_AUTO_CONFIGURE could export past the masking.
        telemetry={"tracing": False, "metrics": False, "logs": False, "auto_configure": False},
    )
    install_docs(app)
    install_finished_document(app)
    app.state.runtime = runtime
    app.add_exception_handler(RequestValidationError, validation_problem)
    app.add_exception_handler(StarletteHTTPException, _http_problem)
    app.add_exception_handler(Problem, problem_handler)
    app.add_exception_handler(Rejected, _rejected)
    app.add_exception_handler(asyncpg.DataError, _invalid_data)
    app.add_exception_handler(asyncpg.DeadlockDetectedError, _contended)
    app.add_exception_handler(asyncpg.SerializationError, _contended)
    app.add_exception_handler(asyncpg.PostgresConnectionError, _database_away)
    app.add_exception_handler(asyncpg.CannotConnectNowError, _database_away)
    app.add_exception_handler(Exception, _unexpected)

    @app.get(
        "/asyncapi.json", tags=["documentation"], summary="AsyncAPI document of this service's messages."
    )
    async def asyncapi_json() -> dict[str, Any]:
        return runtime.asyncapi()

    @app.get(
        "/asyncapi",
        tags=["documentation"],
        summary="AsyncAPI documentation page.",
        response_class=HTMLResponse,
    )
    async def asyncapi_page() -> HTMLResponse:
        return HTMLResponse(get_asyncapi_html(runtime.asyncapi_specification()))

    app.add_middleware(CprGuard, allowed=cpr_allowed, forms_to_routes=cpr_forms_to_routes)
    app.add_middleware(RequestCounter, metrics=runtime.metrics)
    app.state.metrics_app = metrics_app(runtime)

    @app.get("/healthz", tags=["operations"], summary="Liveness: the process answers.", response_model=Health)
    async def healthz() -> Health:
        return Health(status="ok")

    @app.get(
        "/readyz",
        tags=["operations"],
        summary="Readiness: database and broker answer; notices name e.g. unprotected audit tables.",
        response_model=Readiness,
        responses={503: {"model": Readiness, "description": "Not ready: a check failed"}},
    )
    async def readyz() -> JSONResponse:
        checks = await runtime.readiness()
        ready = all(value == "ok" for value in checks.values())
        body: dict[str, Any] = {"status": "ready" if ready else "not-ready", "checks": checks}
        # Reported, not failed: e.g. audit tables the service's own role still owns.
        notices = await runtime.notices()
        if notices:
            body["notices"] = notices
        return JSONResponse(body, status_code=200 if ready else 503)

    # Outermost, so a refused request has its span too (the exporter masks any CPR number in it).
    instrument_app(app, continue_callers_trace=continue_callers_trace)
    return app


def _without_traceback_of(error: type[BaseException]) -> logging.Filter:
    """Drops the traceback text uvicorn logs when the lifespan raised ``error``."""
    marker = f"{error.__module__}.{error.__qualname__}: "

    class WithoutTraceback(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            text = record.msg if isinstance(record.msg, str) else ""
            return not (text.startswith("Traceback") and marker in text)

    return WithoutTraceback()


def metrics_app(runtime: ServiceRuntime) -> Starlette:
    """The internal listener's app: ``GET /metrics`` in the Prometheus text format, nothing else.
    It answers while the database is away (``samspil_database_up 0``)."""

    async def metrics(_: StarletteRequest) -> Response:
        return await render(runtime.metrics, runtime)

    return Starlette(routes=[Route("/metrics", metrics, methods=["GET"])])


# The most a connection may send before its request's line and headers end (h11, uvicorn's
# pure-Python parser, refuses a head past about 16 KiB; httptools, the fast one, has no limit of
# its own). Counted per socket read, so a body's first bytes may count too: kept well above any
# real head plus the first read of a body (a read is at most 256 KiB).
MAX_REQUEST_HEAD_BYTES = 512 * 1024


def http_protocol() -> Any:
    """uvicorn's HTTP implementation: httptools (several times faster than h11) bounded to
    ``MAX_REQUEST_HEAD_BYTES`` before a request's head ends, or h11 where httptools is not
    installed. Unbounded,
    one caller without a token could send a header of hundreds of megabytes, all held in memory
    before any middleware runs."""
    try:
        import httptools
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    except ImportError:
        return "h11"

    class BoundedHttpToolsProtocol(HttpToolsProtocol):
        _head_bytes = 0
        _in_body = False

        def data_received(self, data: bytes) -> None:
            if not self._in_body:
                self._head_bytes += len(data)
                if self._head_bytes > MAX_REQUEST_HEAD_BYTES:
                    self.send_400_response("Request line and headers too large")
                    return
            super().data_received(data)

        def on_headers_complete(self) -> None:
            self._in_body = True
            super().on_headers_complete()

        def on_message_complete(self) -> None:
            self._in_body = False
            self._head_bytes = 0
            super().on_message_complete()

    del httptools
    return BoundedHttpToolsProtocol


def serve(app: FastAPI, settings: RuntimeSettings) -> None:
    """Run the API on the settings' HTTP host and port until SIGINT/SIGTERM (uvicorn then runs the
    lifespan's orderly stop), with the app's metrics on their own listener beside it (the
    settings' metrics host and port), stopped after the API."""
    import uvicorn

    class Beside(uvicorn.Server):
        # The API's server owns SIGINT/SIGTERM; this one is stopped when the API has stopped.
        @contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield

    def config(asgi: Any, host: str, port: int, lifespan: Literal["on", "off"]) -> uvicorn.Config:
        # proxy_headers off: uvicorn would otherwise take X-Forwarded-For from any local peer as
        # the client's address. A service that needs it behind a proxy decides whom to trust.
        return uvicorn.Config(
            asgi,
            host=host,
            port=port,
            log_config=None,
            access_log=False,
            lifespan=lifespan,
            proxy_headers=False,
            http=http_protocol(),
        )

    api = uvicorn.Server(config(app, settings.http_host, settings.http_port, "on"))
    metrics_config = config(app.state.metrics_app, settings.metrics_host, settings.metrics_port, "off")
    metrics = Beside(metrics_config)
    # Bound before the API starts, so a taken metrics port stops the process at once.
    metrics_socket = metrics_config.bind_socket()

    async def both() -> None:
        metrics_task = asyncio.create_task(metrics.serve(sockets=[metrics_socket]))
        try:
            await api.serve()
        finally:
            metrics.should_exit = True
            await metrics_task

    # Everything loaded so far (modules, models, the app) lives as long as the process: out of
    # the collector's sight, so each collection walks only what the work itself makes (the
    # relay's and the consumer's CPU per event fell by about a quarter in their profiles).
    gc.freeze()
    try:
        with asyncio.Runner(loop_factory=api.config.get_loop_factory()) as runner:
            runner.run(both())
    finally:
        shutdown_tracing()  # the last spans, within a bound
    if not api.started:
        sys.exit(3)  # as uvicorn.run does: the app could not start (e.g. its database is away)
