"""Refusals a handler raises when the request itself is wrong, not the machinery: an unknown
citizen, a stale plan version, a postponement without a justification note. The HTTP side
answers them as problem+json (404, 409, 422); the consumer dead-letters the command at once
with the reason, since retrying cannot change the answer."""

from __future__ import annotations

from typing import Any, ClassVar


class Rejected(Exception):
    status: ClassVar[int] = 422
    code: ClassVar[str] = "rejected"

    def __init__(self, detail: str, *, field: str | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field
        self.extra = extra

    def describe(self) -> str:
        where = f" ({self.field})" if self.field else ""
        return f"{self.code}{where}: {self.detail}"


class NotFound(Rejected):
    status = 404
    code = "not-found"


class Forbidden(Rejected):
    """The sender may not ask for this (e.g. a ruling that only the specialist unit makes)."""

    status = 403
    code = "forbidden"


class Conflict(Rejected):
    """The request contradicts the current state: a stale version, an illegal transition."""

    status = 409
    code = "conflict"


class Invalid(Rejected):
    """The request breaks a rule that needs the current state to check, so the schema could not."""

    status = 422
    code = "validation-failed"
