"""The social department's key figures over a period of Danish days. Of the municipality's
figures only these have their data here (absence notices, follow-up due dates, referrals and the
parked report are the jobcenter's):

- Disputes ruled in the period (the joint specialist unit rules through this service): how many,
  how many on time (on or before the ruling deadline, Danish time) and late; and the disputes
  open past their deadline now.
- Plan-change request to final outcome, for the social team's own decisions on providers'
  requests: from when the request arrived to when the decision became final, for decisions final
  in the period.

``team`` narrows the disputes to those the team raised and the decisions to the deciding team.
"""

from __future__ import annotations

from dataclasses import dataclass

from samspil.runtime.reports import Durations

TEAM_FIGURES = ("disputes_ruled", "plan_change_request_to_final")


@dataclass(frozen=True)
class DisputesRuled:
    on_time: int
    late: int

    @property
    def total(self) -> int:
        return self.on_time + self.late


@dataclass(frozen=True)
class SocialKpis:
    disputes_ruled: DisputesRuled
    disputes_overdue_now: int
    plan_change_request_to_final: Durations
