"""Hypothesis strategies from the JSON Schemas pydantic writes: objects, strings (with pattern,
date, date-time and uuid formats), numbers, booleans, enums, arrays, anyOf and $ref. Enough for
the contracts in schemas/json/; anything else fails loudly."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

# Printable text without NUL or surrogates, and short: long strings prove nothing more here.
_TEXT = st.characters(blacklist_categories=("Cs", "Cc"))


def from_schema(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    return _strategy(schema, schema)


def _strategy(node: dict[str, Any], root: dict[str, Any]) -> st.SearchStrategy[Any]:
    if "$ref" in node:
        return _strategy(root["$defs"][node["$ref"].rsplit("/", 1)[-1]], root)
    if "anyOf" in node:
        return st.one_of([_strategy(branch, root) for branch in node["anyOf"]])
    if "const" in node:
        return st.just(node["const"])
    if "enum" in node:
        return st.sampled_from(node["enum"])
    kind = node.get("type")
    if kind == "object":
        properties = node.get("properties", {})
        required = set(node.get("required", []))
        return st.fixed_dictionaries(
            {name: _strategy(prop, root) for name, prop in properties.items() if name in required},
            optional={
                name: _strategy(prop, root) for name, prop in properties.items() if name not in required
            },
        )
    if kind == "array":
        return st.lists(
            _strategy(node["items"], root),
            min_size=node.get("minItems", 0),
            max_size=min(node.get("maxItems", 3), 3),
        )
    if kind == "string":
        return _string(node)
    if kind == "integer":
        return st.integers(min_value=node.get("minimum"), max_value=node.get("maximum"))
    if kind == "number":
        return st.floats(
            min_value=node.get("minimum", node.get("exclusiveMinimum")),
            max_value=node.get("maximum", node.get("exclusiveMaximum")),
            exclude_min="exclusiveMinimum" in node,
            exclude_max="exclusiveMaximum" in node,
            allow_nan=False,
            allow_infinity=False,
        )
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    raise NotImplementedError(f"no strategy for schema node {node}")


def _string(node: dict[str, Any]) -> st.SearchStrategy[str]:
    fmt = node.get("format")
    if fmt == "date":
        return st.dates().map(lambda value: value.isoformat())
    if fmt == "date-time":
        return st.datetimes(timezones=st.just(__import__("datetime").UTC)).map(
            lambda value: value.isoformat()
        )
    if fmt == "uuid":
        return st.uuids().map(str)
    if "pattern" in node:
        return st.from_regex(node["pattern"], fullmatch=True).filter(
            lambda value: node.get("minLength", 0) <= len(value) <= node.get("maxLength", 10**6)
        )
    low = node.get("minLength", 0)
    return st.text(_TEXT, min_size=low, max_size=max(low, min(node.get("maxLength", 40), 40)))
