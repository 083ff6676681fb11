"""The AsyncAPI documents, generated from the services' FastStream brokers, are committed,
current, and together cover every topic and every message."""

from __future__ import annotations

import json

from samspil.contracts import ASYNCAPI_DIR, asyncapi_documents, render
from schemas.registry import MESSAGES
from schemas.topics import CATALOGUE


def test_committed_asyncapi_documents_are_current() -> None:
    documents = asyncapi_documents()
    committed = {path.name: path.read_text(encoding="utf-8") for path in ASYNCAPI_DIR.glob("*.json")}
    assert sorted(committed) == sorted(documents), "run: samspil contracts generate"
    assert [name for name, doc in documents.items() if committed[name] != render(doc)] == []


def test_every_topic_and_message_is_documented_with_examples() -> None:
    documents = asyncapi_documents().values()
    addresses = {channel["address"] for doc in documents for channel in doc["channels"].values()}
    assert {topic.name for topic in CATALOGUE} <= addresses
    schemas = {name: schema for doc in documents for name, schema in doc["components"]["schemas"].items()}
    for model in MESSAGES:
        assert model.__name__ in schemas, f"{model.event_type} is not documented"
        assert schemas[model.__name__].get("examples"), f"{model.__name__} has no example in AsyncAPI"
        assert schemas[model.__name__].get("description"), f"{model.__name__} has no description"


def test_each_channel_documents_what_travels_on_it() -> None:
    employment = json.loads((ASYNCAPI_DIR / "employment.json").read_text())
    payloads = json.dumps(
        employment["components"]["schemas"][
            "samspil.employment.commands.v1:consume:employment:Message:Payload"
        ]
    )
    assert "RecordFollowUp" in payloads and "AbsenceNoticeSubmitted" not in payloads
