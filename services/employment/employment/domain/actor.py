"""Who asked for a change: a caseworker through the HTTP API, or the department's case system
through the command topic. Recorded with every change a person makes (author, decided by)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    name: str
    team: str | None = None

    @classmethod
    def case_system(cls, source: str) -> Actor:
        return cls(name=f"case system {source}")
