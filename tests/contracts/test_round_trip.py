"""Every message survives the trip through its CloudEvents Kafka record unchanged: its
examples, and instances generated from its published JSON Schema."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from samspil.contracts import published_schemas
from samspil.runtime.codec import decode_data, decode_envelope, encode
from schemas.base import EventData
from schemas.envelope import Envelope
from schemas.registry import MESSAGES
from tests.contracts.strategies import from_schema
from tests.support import citizen_ref


def round_trip(data: EventData) -> None:
    envelope = Envelope(
        source="/samspil/test",
        type=data.event_type,
        subject=citizen_ref(),
        dataschema=data.dataschema,
        correlationid="3fa85f64-5717-4562-b3fc-2c963f66afa6",
    )
    record = encode(envelope, data)
    assert decode_envelope(record.headers) == envelope
    assert decode_data(type(data), record.value) == data


@pytest.mark.parametrize("model", MESSAGES, ids=lambda model: model.event_type)
def test_examples_round_trip(model: type[EventData]) -> None:
    for example in model.examples():
        round_trip(example)


@pytest.mark.parametrize("model", MESSAGES, ids=lambda model: model.event_type)
def test_generated_instances_round_trip(model: type[EventData]) -> None:
    schema = published_schemas()[f"{model.event_type}.json"]

    @settings(
        max_examples=40,
        deadline=None,
        suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(
        st.one_of(st.sampled_from([e.model_dump(mode="json") for e in model.examples()]), from_schema(schema))
    )
    def check(candidate: dict[str, Any]) -> None:
        try:
            data = model.model_validate(candidate)
        except ValidationError:
            assume(False)  # the schema cannot express cross-field rules; skip what they refuse
            return
        round_trip(data)

    check()
