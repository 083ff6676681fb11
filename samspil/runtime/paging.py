"""One page shape for every list that can grow, in every service's API: ``{"items": [...],
"next_cursor": "..." | null}``, asked for with ``?cursor=`` and ``?limit=``.

A cursor is opaque to clients: the sort key of the page's last item, as URL-safe base64 of its
JSON form. Each list decides its key (e.g. ``[created_at, id]``) and reads it back with
`read_cursor`, which refuses anything it did not make with a 422 naming ``query.cursor``."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel, Field

from samspil.runtime.http import Problem

Item = TypeVar("Item")
Key = TypeVar("Key")
Row = TypeVar("Row")

NEXT_CURSOR_DESCRIPTION = "Pass as ?cursor= for the next page; null on the last page."

Cursor = Annotated[
    str | None,
    Query(
        max_length=400,
        pattern=r"^[A-Za-z0-9_\-=]+$",
        description="The next_cursor of the page before; omit for the first page.",
    ),
]
Limit = Annotated[int, Query(ge=1, le=500, description="At most this many items (1-500).")]


class Page(BaseModel, Generic[Item]):
    """A page of a list: its items, and the cursor of the next page (null on the last). Name a
    subclass per list (``class TaskPage(Page[TaskOut])``) so the OpenAPI schema reads well."""

    items: list[Item]
    next_cursor: str | None = Field(description=NEXT_CURSOR_DESCRIPTION)


def make_cursor(key: Sequence[Any]) -> str:
    """The cursor after an item whose sort key is ``key`` (JSON-serialisable values)."""
    return base64.urlsafe_b64encode(json.dumps(list(key), separators=(",", ":")).encode()).decode()


def read_cursor(cursor: str, parse: Callable[[list[Any]], Key]) -> Key:
    """The sort key in ``cursor``, through ``parse`` (which raises ValueError, TypeError or
    KeyError on a key that is not this list's); a 422 naming query.cursor when it is not one."""
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor.encode()).decode())
        if not isinstance(raw, list):
            raise ValueError("not a list")
        return parse(raw)
    except (ValueError, TypeError, KeyError, IndexError, binascii.Error, UnicodeDecodeError):
        raise Problem(
            422,
            "validation-failed",
            "The request is not valid",
            errors=[
                {"field": "query.cursor", "message": "not a cursor from this list", "code": "invalid-cursor"}
            ],
        ) from None


def page_of(
    rows: Sequence[Row], limit: int, item: Callable[[Row], Item], key: Callable[[Row], Sequence[Any]]
) -> Page[Item]:
    """The page from ``rows`` fetched with ``limit + 1`` (one more tells whether a next page exists)."""
    shown = rows[:limit]
    next_cursor = make_cursor(key(shown[-1])) if len(rows) > limit and shown else None
    return Page[Item](items=[item(row) for row in shown], next_cursor=next_cursor)
