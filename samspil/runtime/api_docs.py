"""What makes a service's OpenAPI document work with standard tools unchanged: short, stable
operation ids (the route function's name, checked unique), a tag on every operation, the headers
the API really sends declared where it sends them, and the Swagger UI page served from the
service's own files (a docs page that loads from a CDN is blank on a closed network).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.routing import APIRoute
from starlette.staticfiles import StaticFiles

SWAGGER_UI_FILES = Path(__file__).parent / "static" / "swagger-ui"
DOCS_ASSETS = "/docs/assets"
IDEMPOTENCY_KEY = "idempotency-key"
IDEMPOTENT_REPLAYED: dict[str, Any] = {
    "description": "true when this is the first answer to an earlier request with the same "
    "Idempotency-Key and body, sent again; nothing new was done.",
    "schema": {"type": "string", "enum": ["true"]},
}


def operation_id(route: APIRoute) -> str:
    """The route function's name (``submit_absence_notice``), not FastAPI's default that appends
    the path and method; generated clients name their functions after it."""
    return route.name


def tag_routes(router: APIRouter, sections: Mapping[str, str]) -> None:
    """Tag each untagged route of ``router`` by the longest path prefix in ``sections`` (path
    template prefix to tag), so a service's API is grouped in one table rather than on every
    route. Call it before the router is included."""
    by_length = sorted(sections.items(), key=lambda item: len(item[0]), reverse=True)
    for route in router.routes:
        if not isinstance(route, APIRoute) or route.tags:
            continue
        for prefix, tag in by_length:
            if route.path == prefix or route.path.startswith(prefix.rstrip("/") + "/"):
                route.tags = [tag]
                break


def finish_document(document: dict[str, Any]) -> dict[str, Any]:
    """Checks the document's operation ids are unique and declares ``Idempotent-Replayed`` on the
    success answers of every operation that takes an ``Idempotency-Key``."""
    ids = Counter(
        operation["operationId"]
        for item in document.get("paths", {}).values()
        for operation in item.values()
        if isinstance(operation, dict) and "operationId" in operation
    )
    twice = sorted(name for name, count in ids.items() if count > 1)
    if twice:
        raise RuntimeError(f"operation ids must be unique; route functions share the names {twice}")
    for item in document.get("paths", {}).values():
        for operation in item.values():
            if not isinstance(operation, dict):
                continue
            parameters = operation.get("parameters", [])
            if not any(
                parameter.get("in") == "header" and parameter.get("name", "").lower() == IDEMPOTENCY_KEY
                for parameter in parameters
            ):
                continue
            for status, response in operation.get("responses", {}).items():
                if str(status).startswith("2"):
                    response.setdefault("headers", {})["Idempotent-Replayed"] = IDEMPOTENT_REPLAYED
    return document


def install_finished_document(app: FastAPI) -> None:
    """Makes ``app.openapi()`` answer the finished document (built once, on first use)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = finish_document(build())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def install_docs(app: FastAPI) -> None:
    """``/docs``: Swagger UI from the files this package ships, with no request to another host
    (the online validator badge off)."""
    app.mount(DOCS_ASSETS, StaticFiles(directory=SWAGGER_UI_FILES), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} - API",
            swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{DOCS_ASSETS}/favicon-32x32.png",
            swagger_ui_parameters={"validatorUrl": None},
        )
