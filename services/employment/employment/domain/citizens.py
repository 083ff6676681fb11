"""Who the shared citizens are: the benefit group they belong to and overlapping profile tags
(from the jobcenter's case review of match group 3: tags, not one category)."""

from __future__ import annotations

from enum import StrEnum


class TargetGroup(StrEnum):
    KONTANTHJAELP = "kontanthjaelp"
    UDDANNELSESHJAELP = "uddannelseshjaelp"
    INTEGRATIONSYDELSE = "integrationsydelse"
    SYGEDAGPENGE = "sygedagpenge"
    RESSOURCEFORLOEB = "ressourceforloeb"


class ProfileTag(StrEnum):
    MAYBE_SUITED_FOR_ACTIVATION = "maybe-suited-for-activation"
    PHYSICALLY_ILL = "physically-ill"
    SUBSTANCE_ABUSE = "substance-abuse"
    DIFFUSE_MENTAL_ILLNESS = "diffuse-mental-illness"
    DIAGNOSED_MENTAL_ILLNESS_OR_TRAUMA = "diagnosed-mental-illness-or-trauma"
    FAR_FROM_LABOUR_MARKET = "far-from-labour-market"
