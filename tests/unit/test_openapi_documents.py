"""The three OpenAPI documents as standard tools read them: short unique operation ids named after
the route functions, one schema per model under its own name, a tag on every operation, a typed
answer on every route, the problem bodies and headers the API really sends, and a rule (not a
type) named when a field the rule makes required is left out."""

from __future__ import annotations

from typing import Annotated, Any

import httpx
import pytest
from fastapi import FastAPI

from samspil.runtime.api_docs import finish_document
from samspil.runtime.http import create_app
from samspil.runtime.service import ServiceRuntime
from samspil.runtime.settings import RuntimeSettings
from schemas.common import RequiredBecause, ShortText, Strict
from tests.unit.test_topic_retention import build_app

SERVICES = ["provider-gateway", "employment", "social"]
HTML_OR_DOCUMENT = {"asyncapi_page", "asyncapi_json"}


@pytest.fixture(scope="module")
def documents() -> dict[str, dict[str, Any]]:
    return {service: build_app(service).openapi() for service in SERVICES}


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
    ]


@pytest.mark.parametrize("service", SERVICES)
def test_operation_ids_are_the_route_functions_names(service: str, documents: dict[str, Any]) -> None:
    ids = [operation["operationId"] for _, _, operation in operations(documents[service])]
    assert len(ids) == len(set(ids))
    assert not [name for name in ids if "_v1_" in name or name.endswith(("_get", "_post", "_put"))]
    assert "list_tasks" in ids or service == "provider-gateway"


@pytest.mark.parametrize("service", SERVICES)
def test_one_schema_per_model_under_its_own_name(service: str, documents: dict[str, Any]) -> None:
    names = list(documents[service]["components"]["schemas"])
    assert not [name for name in names if "__" in name or name.endswith(("-Input", "-Output"))]


@pytest.mark.parametrize("service", SERVICES)
def test_every_operation_has_a_tag_and_a_typed_answer(service: str, documents: dict[str, Any]) -> None:
    for method, path, operation in operations(documents[service]):
        assert operation.get("tags"), f"{method} {path} has no tag"
        if operation["operationId"] in HTML_OR_DOCUMENT:
            continue
        for status, response in operation["responses"].items():
            if status == "204":
                continue
            schema = response.get("content", {}).get("application/json", {}).get("schema", {})
            typed = "$ref" in schema or "$ref" in schema.get("items", {})
            assert typed, f"{method} {path} answers {status} untyped: {schema}"


@pytest.mark.parametrize("service", SERVICES)
def test_problem_answers_declare_their_body_and_headers(service: str, documents: dict[str, Any]) -> None:
    for method, path, operation in operations(documents[service]):
        responses = operation["responses"]
        conflict = responses.get("409", {}).get("content", {}).get("application/problem+json", {})
        if "409" in responses:
            assert conflict["schema"] == {"$ref": "#/components/schemas/ConflictProblem"}, (method, path)
        if "401" in responses:
            assert "WWW-Authenticate" in responses["401"]["headers"], (method, path)
        for status in ("429", "503"):
            if "application/problem+json" in responses.get(status, {}).get("content", {}):
                assert "Retry-After" in responses[status].get("headers", {}), (method, path, status)
    conflict_problem = documents[service]["components"]["schemas"]["ConflictProblem"]
    assert "current_status" in conflict_problem["properties"]


def test_a_lifecycle_step_declares_its_404_and_409_problems_and_the_replayed_header(
    documents: dict[str, Any],
) -> None:
    hold = documents["provider-gateway"]["paths"]["/v1/referrals/{referral_id}/hold"]["post"]
    assert hold["operationId"] == "hold_referral"
    assert "application/problem+json" in hold["responses"]["404"]["content"]
    assert hold["responses"]["409"]["description"] == "Not allowed from its status"
    assert "Idempotent-Replayed" in hold["responses"]["200"]["headers"]
    notice = documents["provider-gateway"]["paths"]["/v1/referrals/{referral_id}/absence-notices"]["post"]
    assert "Idempotent-Replayed" in notice["responses"]["202"]["headers"]


def test_updated_since_says_it_needs_a_time_zone_offset(documents: dict[str, Any]) -> None:
    listing = documents["provider-gateway"]["paths"]["/v1/referrals"]["get"]
    (parameter,) = [p for p in listing["parameters"] if p["name"] == "updated_since"]
    assert "offset" in parameter["description"]
    assert all(example["value"].endswith(("Z", "+01:00")) for example in parameter["examples"].values())


def test_two_routes_of_one_name_are_refused_when_the_document_is_built() -> None:
    document = {
        "paths": {
            "/a": {"get": {"operationId": "list_items", "responses": {}}},
            "/b": {"get": {"operationId": "list_items", "responses": {}}},
        }
    }
    with pytest.raises(RuntimeError, match="list_items"):
        finish_document(document)


class HoldIn(Strict):
    reason: Annotated[ShortText, RequiredBecause("A reason is required to put a referral on hold.")]


def rule_app() -> FastAPI:
    settings = RuntimeSettings(database_url="postgresql://unused/unused", dead_letter_key="k" * 32)
    app = create_app(
        ServiceRuntime(name="rules", settings=settings, migration_packages=[]), title="t", description="d"
    )

    @app.post("/hold", status_code=204)
    async def hold(body: HoldIn) -> None:
        return None

    return app


@pytest.mark.parametrize("body", [{}, {"reason": None}, {"reason": "   "}])
async def test_a_field_a_rule_makes_required_is_refused_with_the_rule(body: dict[str, Any]) -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=rule_app()), base_url="http://s"
    ) as client:
        answer = await client.post("/hold", json=body)
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["errors"] == [
        {
            "field": "body.reason",
            "message": "A reason is required to put a referral on hold.",
            "code": "required",
        }
    ]


async def test_a_field_of_the_wrong_type_is_still_refused_for_its_type() -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=rule_app()), base_url="http://s"
    ) as client:
        answer = await client.post("/hold", json={"reason": 7})
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["code"] == "string_type"
