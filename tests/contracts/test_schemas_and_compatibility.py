"""The published contracts in schemas/json/: current, never broken, and the check that guards
them fails on every kind of breaking change."""

from __future__ import annotations

import json
import shutil
from enum import StrEnum
from pathlib import Path

import pytest
from pydantic import BaseModel, Field

from samspil.contracts import (
    SCHEMA_DIR,
    breaking_changes,
    compatibility_report,
    current_schemas,
    generate,
    published_schemas,
    released_versions,
    render,
)
from schemas.registry import MESSAGES


def test_every_message_has_a_committed_schema_and_none_is_stale() -> None:
    current = current_schemas()
    committed = {path.name: path.read_text(encoding="utf-8") for path in SCHEMA_DIR.glob("*.json")}
    assert sorted(committed) == sorted(current), "run: samspil contracts generate"
    stale = [name for name, schema in current.items() if committed[name] != render(schema)]
    assert stale == [], f"stale schemas, run: samspil contracts generate: {stale}"


def test_no_published_contract_is_broken_by_the_current_models() -> None:
    assert compatibility_report(published_schemas(), current_schemas()) == {}


def test_every_message_has_at_least_one_valid_example() -> None:
    for model in MESSAGES:
        assert model.examples(), f"{model.__name__} has no example"


class Reason(StrEnum):
    ILLNESS = "illness"
    OTHER = "other"


class Published(BaseModel):
    note: str | None = Field(default=None, max_length=500)
    attempts: int = 0
    reason: Reason


class FieldRemoved(BaseModel):
    attempts: int = 0
    reason: Reason


class TypeNarrowed(BaseModel):
    note: str | None = Field(default=None, max_length=100)
    attempts: int = 0
    reason: Reason


class TypeChanged(BaseModel):
    note: str | None = Field(default=None, max_length=500)
    attempts: str = "0"
    reason: Reason


class OptionalMadeRequired(BaseModel):
    note: str = Field(max_length=500)
    attempts: int = 0
    reason: Reason


class NarrowReason(StrEnum):
    ILLNESS = "illness"


class EnumMemberRemoved(BaseModel):
    note: str | None = Field(default=None, max_length=500)
    attempts: int = 0
    reason: NarrowReason


class WiderReason(StrEnum):
    ILLNESS = "illness"
    OTHER = "other"
    TREATMENT = "treatment"


class CompatiblyExtended(BaseModel):
    note: str | None = Field(default=None, max_length=1000)
    attempts: int | str = 0
    reason: WiderReason
    comment: str | None = None


@pytest.mark.parametrize(
    ("changed", "expected"),
    [
        (FieldRemoved, "$.note: field removed"),
        (TypeNarrowed, "$.note: maxLength tightened to 100"),
        (TypeChanged, "$.attempts: type narrowed from number to string"),
        (OptionalMadeRequired, "$.note: optional field made required"),
        (EnumMemberRemoved, '$.reason: enum members removed: "other"'),
    ],
    ids=lambda value: getattr(value, "__name__", "")[:30],
)
def test_compatibility_check_fails_on_a_breaking_change(changed: type[BaseModel], expected: str) -> None:
    problems = breaking_changes(Published.model_json_schema(), changed.model_json_schema())
    assert expected in problems


def test_compatibility_check_accepts_compatible_changes() -> None:
    assert breaking_changes(Published.model_json_schema(), CompatiblyExtended.model_json_schema()) == []


def test_a_breaking_edit_of_a_real_published_message_is_caught() -> None:
    name = "dk.samspil.provider.absence-notice.submitted.v1.json"
    published = published_schemas()[name]
    edited = json.loads(json.dumps(current_schemas()[name]))
    del edited["properties"]["comment"]
    edited["required"].append("reason")
    edited["$defs"]["AbsenceReason"]["enum"].remove("treatment")
    problems = breaking_changes(published, edited)
    assert "$.comment: field removed" in problems
    assert "$.reason: optional field made required" in problems
    assert any(problem.startswith("$.reason: enum members removed") for problem in problems)


def test_generate_refuses_to_overwrite_a_published_contract_incompatibly(tmp_path: Path) -> None:
    folder = tmp_path / "json"
    shutil.copytree(SCHEMA_DIR, folder)
    name = "dk.samspil.provider.meeting.reported.v1.json"
    published = json.loads((folder / name).read_text())
    # As if the published version had a field the current model dropped.
    published["properties"]["location"] = {"type": "string"}
    (folder / name).write_text(render(published))
    with pytest.raises(SystemExit, match="location: field removed"):
        generate(folder)
    assert "location" in json.loads((folder / name).read_text())["properties"], "nothing may be written"


def test_a_dropped_published_version_is_breaking() -> None:
    published = {"dk.samspil.gone.v1.json": {"type": "object"}}
    assert compatibility_report(published, {}) == {
        "dk.samspil.gone.v1.json": ["published version removed; old versions must stay readable"]
    }


class Bounded(BaseModel):
    count: int = Field(gt=0)
    code: str | None = None
    tags: dict[str, int] = Field(default_factory=dict)
    pair: tuple[int, str] = (0, "")


class BoundWidened(BaseModel):
    count: int = Field(ge=0)
    code: Reason | str | None = None
    tags: dict[str, int] = Field(default_factory=dict)
    pair: tuple[int, str] = (0, "")


class InnerTightened(BaseModel):
    count: int = Field(gt=0, multiple_of=2)
    code: str | None = None
    tags: dict[str, bool] = Field(default_factory=dict)
    pair: tuple[int, int] = (0, 0)


class Node(BaseModel):
    value: int
    children: list[Node] = Field(default_factory=list)


def test_widened_bounds_and_enums_widened_to_their_type_are_compatible() -> None:
    assert breaking_changes(Bounded.model_json_schema(), BoundWidened.model_json_schema()) == []
    nullable_enum = TypeNarrowed.model_json_schema()
    nullable_enum["properties"]["note"] = {"anyOf": [{"enum": ["a", "b"]}, {"type": "null"}]}
    assert breaking_changes(nullable_enum, Published.model_json_schema()) == []


def test_tightening_inside_maps_tuples_and_multiples_is_breaking() -> None:
    problems = breaking_changes(Bounded.model_json_schema(), InnerTightened.model_json_schema())
    assert "$.count: multipleOf changed to 2" in problems
    assert any(problem.startswith("$.tags{*}") for problem in problems)
    assert any(problem.startswith("$.pair[1]") for problem in problems)


def test_a_recursive_model_is_compared_without_end() -> None:
    assert breaking_changes(Node.model_json_schema(), Node.model_json_schema()) == []


def test_moving_a_message_to_another_topic_is_breaking() -> None:
    old = {"x-topic": "samspil.a.v1", "type": "object"}
    assert breaking_changes(old, {**old, "x-topic": "samspil.b.v1"}) == [
        "$: moved from topic samspil.a.v1 to samspil.b.v1"
    ]


def test_every_published_example_is_still_valid_for_the_current_model() -> None:
    by_file = {f"{model.event_type}.json": model for model in MESSAGES}
    for name, schema in published_schemas().items():
        for example in schema.get("examples", []):
            by_file[name].model_validate(example)


def test_no_version_committed_since_the_release_is_broken() -> None:
    """Checked against git history, so editing or deleting a committed schema hides nothing."""
    versions = released_versions()
    assert "dk.samspil.provider.absence-notice.submitted.v1.json" in versions  # read from git
    assert compatibility_report(versions, current_schemas()) == {}


def test_the_history_check_sees_a_version_that_was_edited_away() -> None:
    name = "dk.samspil.provider.meeting.reported.v1.json"
    history = released_versions()
    older = json.loads(json.dumps(history[name][0]))
    older["properties"]["location"] = {"type": "string"}
    history[name] = [older, *history[name]]  # as if the file had once had a field now gone
    assert "$.location: field removed" in compatibility_report(history, current_schemas())[name]
