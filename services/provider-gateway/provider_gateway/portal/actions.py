"""The portal's actions on a referral and its four report forms (P3 fills this in)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/portal", include_in_schema=False)
