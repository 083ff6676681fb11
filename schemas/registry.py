"""Every event type on the bus, by its CloudEvents type, so a consumer can tell unknown from
uninteresting."""

from __future__ import annotations

from schemas.base import EventData
from schemas.employment import ReferralRequested
from schemas.provider_reports import AbsenceNoticeSubmitted

EVENT_TYPES: dict[str, type[EventData]] = {
    model.event_type: model for model in (ReferralRequested, AbsenceNoticeSubmitted)
}
