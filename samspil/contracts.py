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
import operator
import subprocess
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


RELEASE_FILE = SCHEMA_DIR / "RELEASED"


def released_versions() -> dict[str, list[Schema]]:
    """Every version of every schema file committed since the release point (the commit named
    in schemas/json/RELEASED), read from git. Editing or deleting a committed file cannot hide
    a breaking change from this: the earlier versions are still in the history."""
    base = RELEASE_FILE.read_text(encoding="utf-8").strip()
    revisions = [base, *_git("rev-list", f"{base}..HEAD", "--", "schemas/json").split()]
    blobs: dict[str, set[str]] = {}
    for revision in revisions:
        for line in _git("ls-tree", revision, "schemas/json/").splitlines():
            meta, path = line.split("\t", 1)
            if path.endswith(".json"):
                blobs.setdefault(Path(path).name, set()).add(meta.split()[2])
    return {
        name: [json.loads(_git("cat-file", "blob", blob)) for blob in sorted(versions)]
        for name, versions in blobs.items()
    }


def _git(*args: str) -> str:
    result = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout


# Compatibility ----------------------------------------------------------------------------------

_JSON_TYPES = {str: "string", bool: "boolean", int: "number", float: "number", type(None): "null"}


def breaking_changes(old: Schema, new: Schema) -> list[str]:
    """What in ``new`` would refuse or misread a message valid under ``old``."""
    problems: list[str] = []
    if old.get("x-topic") and new.get("x-topic") and old["x-topic"] != new["x-topic"]:
        problems.append(f"$: moved from topic {old['x-topic']} to {new['x-topic']}")
    _Comparison(old, new, problems).compare(old, new, "$")
    return problems


def _resolve(node: Schema, root: Schema) -> tuple[Schema, str | None]:
    ref = None
    while "$ref" in node:
        ref = node["$ref"]
        name = ref.rsplit("/", 1)[-1]
        node = {**root.get("$defs", {})[name], **{k: v for k, v in node.items() if k != "$ref"}}
    return node, ref


def _kind(node: Schema) -> str:
    if "enum" in node or "const" in node:
        return "enum"
    kind = node.get("type", "any")
    return "number" if kind == "integer" else str(kind)


def _values(node: Schema) -> list[Any]:
    return list(node.get("enum", [node["const"]] if "const" in node else []))


def _accepts_values(node: Schema, values: list[Any]) -> bool:
    """Whether a non-enum node's type takes every one of an enum's values."""
    kind = _kind(node)
    return kind == "any" or all(_JSON_TYPES.get(type(value)) == kind for value in values)


def _bound(node: Schema, inclusive: str, exclusive: str) -> tuple[float, bool] | None:
    """A bound as (value, is_exclusive); the tighter of the two keywords when both are given."""
    bounds = []
    if inclusive in node:
        bounds.append((float(node[inclusive]), False))
    if exclusive in node:
        bounds.append((float(node[exclusive]), True))
    if not bounds:
        return None
    lower = inclusive.startswith("min")
    return max(bounds) if lower else min(bounds, key=lambda b: (b[0], not b[1]))


class _Comparison:
    def __init__(self, old_root: Schema, new_root: Schema, out: list[str]) -> None:
        self.old_root, self.new_root, self.out = old_root, new_root, out
        self.seen: set[tuple[str, str]] = set()

    def compare(self, old: Schema, new: Schema, path: str) -> None:
        old, old_ref = _resolve(old, self.old_root)
        new, new_ref = _resolve(new, self.new_root)
        if old_ref and new_ref:
            if (old_ref, new_ref) in self.seen:  # a recursive model: already being compared
                return
            self.seen.add((old_ref, new_ref))
        old_branches, new_branches = self._branches(old, self.old_root), self._branches(new, self.new_root)
        if len(old_branches) == 1 and len(new_branches) == 1:
            self.compare_single(old, new, path)
            return
        for branch in old_branches:
            candidates = [b for b in new_branches if self._could_accept(branch, b)]
            if not candidates:
                self.out.append(f"{path}: type narrowed: {_kind(branch)} no longer accepted")
                continue
            attempts = []
            for candidate in candidates:
                found = _Comparison(self.old_root, self.new_root, [])
                found.seen = set(self.seen)
                found.compare_single(branch, candidate, path)
                attempts.append(found.out)
            if all(attempts):
                fewest: list[str] = min(attempts, key=len)
                self.out.extend(fewest)

    def _branches(self, node: Schema, root: Schema) -> list[Schema]:
        alternatives: list[Schema] = node.get("anyOf") or node.get("oneOf") or [node]
        return [_resolve(branch, root)[0] for branch in alternatives]

    @staticmethod
    def _could_accept(old: Schema, new: Schema) -> bool:
        old_kind, new_kind = _kind(old), _kind(new)
        if new_kind in ("any", old_kind):
            return True
        return old_kind == "enum" and _accepts_values(new, _values(old))

    def compare_single(self, old: Schema, new: Schema, path: str) -> None:
        old_kind, new_kind = _kind(old), _kind(new)
        if new_kind != "any" and old_kind != new_kind:
            if not (old_kind == "enum" and _accepts_values(new, _values(old))):
                self.out.append(f"{path}: type narrowed from {old_kind} to {new_kind}")
            return
        if old.get("type") == "number" and new.get("type") == "integer":
            self.out.append(f"{path}: type narrowed from number to integer")
        old_values, new_values = set(map(json.dumps, _values(old))), set(map(json.dumps, _values(new)))
        if new_values and old_values - new_values:
            self.out.append(f"{path}: enum members removed: {', '.join(sorted(old_values - new_values))}")
        self._bounds(old, new, path)
        for key in ("pattern", "format", "multipleOf"):
            if key in new and new.get(key) != old.get(key):
                self.out.append(f"{path}: {key} changed to {new[key]!r}")
        if new.get("uniqueItems") and not old.get("uniqueItems"):
            self.out.append(f"{path}: items must now be unique")
        if old_kind == "object":
            self._objects(old, new, path)
        if old_kind == "array":
            if "items" in old and "items" in new:
                self.compare(old["items"], new["items"], f"{path}[]")
            for index, (old_item, new_item) in enumerate(
                zip(old.get("prefixItems", []), new.get("prefixItems", []), strict=False)
            ):
                self.compare(old_item, new_item, f"{path}[{index}]")
            if len(new.get("prefixItems", [])) > len(old.get("prefixItems", [])) and old.get("prefixItems"):
                self.out.append(f"{path}: more fixed items required")

    def _bounds(self, old: Schema, new: Schema, path: str) -> None:
        for inclusive, exclusive, tighter in (
            ("minimum", "exclusiveMinimum", operator.lt),
            ("maximum", "exclusiveMaximum", operator.gt),
        ):
            old_bound, new_bound = _bound(old, inclusive, exclusive), _bound(new, inclusive, exclusive)
            if new_bound is None:
                continue
            if (
                old_bound is None
                or tighter(old_bound[0], new_bound[0])
                or (old_bound[0] == new_bound[0] and new_bound[1] and not old_bound[1])
            ):
                self.out.append(f"{path}: {inclusive} bound tightened to {new_bound[0]:g}")
        for key, tighter_than in (
            ("minLength", max),
            ("minItems", max),
            ("maxLength", min),
            ("maxItems", min),
        ):
            if key in new and (key not in old or tighter_than(old[key], new[key]) != old[key]):
                self.out.append(f"{path}: {key} tightened to {new[key]}")

    def _objects(self, old: Schema, new: Schema, path: str) -> None:
        old_props, new_props = old.get("properties", {}), new.get("properties", {})
        for name in old_props:
            if name not in new_props:
                self.out.append(f"{path}.{name}: field removed")
        old_required, new_required = set(old.get("required", [])), set(new.get("required", []))
        for name in sorted(new_required - old_required):
            what = "optional field made required" if name in old_props else "required field added"
            self.out.append(f"{path}.{name}: {what}")
        for name in old_props:
            if name in new_props:
                self.compare(old_props[name], new_props[name], f"{path}.{name}")
        old_extra, new_extra = old.get("additionalProperties", True), new.get("additionalProperties", True)
        if new_extra is False and old_extra is not False:
            self.out.append(f"{path}: unknown fields now refused")
        elif isinstance(old_extra, dict) and isinstance(new_extra, dict):
            self.compare(old_extra, new_extra, f"{path}{{*}}")


def compatibility_report(
    published: dict[str, Schema] | dict[str, list[Schema]], current: dict[str, Schema]
) -> dict[str, list[str]]:
    """Breaking changes per published file (against each of its versions, when given several);
    a published version that vanished is one too."""
    report: dict[str, list[str]] = {}
    for name, old in published.items():
        if name not in current:
            report[name] = ["published version removed; old versions must stay readable"]
            continue
        problems: list[str] = []
        for version in old if isinstance(old, list) else [old]:
            problems += [p for p in breaking_changes(version, current[name]) if p not in problems]
        if problems:
            report[name] = problems
    return report


def generate(folder: Path = SCHEMA_DIR) -> list[str]:
    """Write the current schemas; refuse (writing nothing) if any would break a published one."""
    current = current_schemas()
    report = compatibility_report(published_schemas(folder), current)
    if folder == SCHEMA_DIR and RELEASE_FILE.exists():
        report.update(compatibility_report(released_versions(), current))
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
    secrets: dict[str, Any] = {
        "SAMSPIL_AUTH_SECRET": "x" * 32,
        "SAMSPIL_CITIZEN_REF_KEY": "x" * 32,
        "dead_letter_key": "x" * 32,
    }
    apps = {
        "provider-gateway": gateway_app(
            GatewaySettings(database_url=placeholder, token_secret="x" * 32, dead_letter_key="x" * 32)
        ),
        "employment": employment_app(EmploymentSettings(database_url=placeholder, **secrets)),
        "social": social_app(SocialSettings(database_url=placeholder, **secrets)),
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
