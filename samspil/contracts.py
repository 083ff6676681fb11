"""Contract tooling: JSON Schemas for every message, and the backward-compatibility check.

The committed files in ``schemas/json/`` are the published contracts, one per message type and
major version. A published version may only change compatibly, so that a consumer built from the
new schema still reads every message produced under the old one (consumers are upgraded before
producers). Breaking changes are: a field removed, a type narrowed (including tighter bounds or
a new pattern), an optional field made required or a required field added, an enum member
removed, or a published version dropped. A breaking change needs a new version (``.v2``) beside
the old one, which stays readable.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from schemas.base import EventData
from schemas.registry import MESSAGES

ROOT = Path(__file__).resolve().parents[1]
SCHEMA_DIR = ROOT / "schemas" / "json"
ASYNCAPI_DIR = ROOT / "docs" / "asyncapi"

Schema = dict[str, Any]


def schema_for(model: type[EventData]) -> Schema:
    schema = model.model_json_schema(mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": model.dataschema,
        "x-cloudevents-type": model.event_type,
        "x-topic": model.topic.name,
        **schema,
    }


def render(schema: Schema) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def current_schemas() -> dict[str, Schema]:
    """File name -> schema, for every message the registry knows."""
    return {f"{model.event_type}.json": schema_for(model) for model in MESSAGES}


def published_schemas(folder: Path = SCHEMA_DIR) -> dict[str, Schema]:
    return {path.name: json.loads(path.read_text(encoding="utf-8")) for path in sorted(folder.glob("*.json"))}


# Compatibility ----------------------------------------------------------------------------------

_LOWER_BOUNDS = ("minLength", "minimum", "exclusiveMinimum", "minItems")
_UPPER_BOUNDS = ("maxLength", "maximum", "exclusiveMaximum", "maxItems")


def breaking_changes(old: Schema, new: Schema) -> list[str]:
    """What in ``new`` would refuse or misread a message valid under ``old``."""
    problems: list[str] = []
    _compare(old, new, "$", old, new, problems)
    return problems


def _resolve(node: Schema, root: Schema) -> Schema:
    while "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        node = {**root.get("$defs", {})[name], **{k: v for k, v in node.items() if k != "$ref"}}
    return node


def _branches(node: Schema, root: Schema) -> list[Schema]:
    alternatives: list[Schema] = node.get("anyOf") or node.get("oneOf") or [node]
    return [_resolve(branch, root) for branch in alternatives]


def _kind(node: Schema) -> str:
    if "enum" in node or "const" in node:
        return "enum"
    kind = node.get("type", "any")
    return "number" if kind == "integer" else str(kind)


def _compare(old: Schema, new: Schema, path: str, old_root: Schema, new_root: Schema, out: list[str]) -> None:
    old, new = _resolve(old, old_root), _resolve(new, new_root)
    old_branches, new_branches = _branches(old, old_root), _branches(new, new_root)
    if len(old_branches) > 1 or len(new_branches) > 1:
        for branch in old_branches:
            matches = [b for b in new_branches if _kind(b) == _kind(branch) or _kind(b) == "any"]
            if not matches:
                out.append(f"{path}: type narrowed: {_kind(branch)} no longer accepted")
                continue
            # Compatible if any matching branch accepts all of the old branch.
            attempts: list[list[str]] = []
            for candidate in matches:
                found: list[str] = []
                _compare(branch, candidate, path, old_root, new_root, found)
                attempts.append(found)
            if all(attempts):
                fewest: list[str] = min(attempts, key=len)
                out.extend(fewest)
        return
    _compare_single(old, new, path, old_root, new_root, out)


def _compare_single(
    old: Schema, new: Schema, path: str, old_root: Schema, new_root: Schema, out: list[str]
) -> None:
    old_kind, new_kind = _kind(old), _kind(new)
    if new_kind != "any" and old_kind != new_kind:
        if not (old_kind == "enum" and new_kind == "string"):
            out.append(f"{path}: type narrowed from {old_kind} to {new_kind}")
            return
    if old.get("type") == "number" and new.get("type") == "integer":
        out.append(f"{path}: type narrowed from number to integer")
    old_values = set(map(json.dumps, old.get("enum", [old["const"]] if "const" in old else [])))
    new_values = set(map(json.dumps, new.get("enum", [new["const"]] if "const" in new else [])))
    if new_values and old_values - new_values:
        out.append(f"{path}: enum members removed: {', '.join(sorted(old_values - new_values))}")
    for key in _LOWER_BOUNDS:
        if key in new and (key not in old or new[key] > old[key]):
            out.append(f"{path}: {key} tightened to {new[key]}")
    for key in _UPPER_BOUNDS:
        if key in new and (key not in old or new[key] < old[key]):
            out.append(f"{path}: {key} tightened to {new[key]}")
    for key in ("pattern", "format"):
        if key in new and new.get(key) != old.get(key):
            out.append(f"{path}: {key} changed to {new[key]!r}")
    if old_kind == "object":
        _compare_objects(old, new, path, old_root, new_root, out)
    if old_kind == "array" and "items" in old and "items" in new:
        _compare(old["items"], new["items"], f"{path}[]", old_root, new_root, out)


def _compare_objects(
    old: Schema, new: Schema, path: str, old_root: Schema, new_root: Schema, out: list[str]
) -> None:
    old_props, new_props = old.get("properties", {}), new.get("properties", {})
    for name in old_props:
        if name not in new_props:
            out.append(f"{path}.{name}: field removed")
    old_required, new_required = set(old.get("required", [])), set(new.get("required", []))
    for name in sorted(new_required - old_required):
        what = "optional field made required" if name in old_props else "required field added"
        out.append(f"{path}.{name}: {what}")
    for name in old_props:
        if name in new_props:
            _compare(old_props[name], new_props[name], f"{path}.{name}", old_root, new_root, out)


def compatibility_report(published: dict[str, Schema], current: dict[str, Schema]) -> dict[str, list[str]]:
    """Breaking changes per published file; a published version that vanished is one too."""
    report: dict[str, list[str]] = {}
    for name, old in published.items():
        if name not in current:
            report[name] = ["published version removed; old versions must stay readable"]
            continue
        problems = breaking_changes(old, current[name])
        if problems:
            report[name] = problems
    return report


def generate(folder: Path = SCHEMA_DIR) -> list[str]:
    """Write the current schemas; refuse (writing nothing) if any would break a published one."""
    current = current_schemas()
    report = compatibility_report(published_schemas(folder), current)
    if report:
        lines = [f"{name}: {problem}" for name, problems in report.items() for problem in problems]
        raise SystemExit("Backward-incompatible changes to published contracts:\n  " + "\n  ".join(lines))
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, schema in current.items():
        path = folder / name
        text = render(schema)
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            written.append(name)
    return written


# AsyncAPI ---------------------------------------------------------------------------------------


def asyncapi_documents() -> dict[str, Schema]:
    """File name -> AsyncAPI document, generated from each service's FastStream broker (built,
    not connected: the placeholder settings are never used to reach anything)."""
    from employment.bootstrap import build_app as employment_app
    from employment.settings import EmploymentSettings
    from provider_gateway.bootstrap import build_app as gateway_app
    from provider_gateway.settings import GatewaySettings
    from social.bootstrap import build_app as social_app
    from social.settings import SocialSettings

    placeholder = "postgresql://docs@localhost/docs"
    apps = {
        "provider-gateway": gateway_app(GatewaySettings(database_url=placeholder, token_secret="x" * 32)),
        "employment": employment_app(EmploymentSettings(database_url=placeholder)),
        "social": social_app(SocialSettings(database_url=placeholder)),
    }
    return {f"{name}.json": app.state.runtime.asyncapi() for name, app in apps.items()}


def write_asyncapi(folder: Path = ASYNCAPI_DIR) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, document in asyncapi_documents().items():
        path = folder / name
        text = render(document)
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            written.append(name)
    return written
