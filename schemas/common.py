"""Types shared by many messages: bounded texts, parties, teams, and date-range checks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, GetCoreSchemaHandler
from pydantic_core import PydanticCustomError, core_schema

from schemas.envelope import no_cpr, plain_text

# Free texts are bounded, and none may carry a CPR number.
Name = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(plain_text), AfterValidator(no_cpr)]
ShortText = Annotated[
    str, Field(min_length=1, max_length=500), AfterValidator(plain_text), AfterValidator(no_cpr)
]
LongText = Annotated[
    str, Field(min_length=1, max_length=4000), AfterValidator(plain_text), AfterValidator(no_cpr)
]
ProviderId = Annotated[
    str,
    AfterValidator(no_cpr),
    Field(
        min_length=1,
        max_length=100,
        pattern=r"^[a-z0-9][a-z0-9-]*$",
        description="The provider's id in Samspil (lower case, digits and dashes).",
        examples=["aktivcenter-nord"],
    ),
]
# Work contact details; a CPR number has no business in them either.
Phone = Annotated[str, Field(pattern=r"^\+?[0-9 ]{8,16}$"), AfterValidator(no_cpr)]
Email = Annotated[
    str, Field(max_length=200, pattern=r"^[^@\s]+@[^@\s]+\.[A-Za-z0-9-]{2,}$"), AfterValidator(no_cpr)
]


@dataclass(frozen=True)
class RequiredBecause:
    """Marks a field that a rule, not its type, makes required, with the rule in the domain's
    words: left out, null or blank, it is refused with the rule ("A reason is required to put a
    referral on hold") and the code ``required``, not with "Input should be a valid string".
    The HTTP runtime finds the same rule for a field left out of a body."""

    rule: str

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_before_validator_function(self.check, handler(source))

    def check(self, value: Any) -> Any:
        if value is None or (isinstance(value, str) and not value.strip()):
            raise PydanticCustomError("required", self.rule)
        return value


HoursPerWeek = Annotated[float, Field(gt=0, le=60, description="Hours per week.", examples=[10])]
PlanVersion = Annotated[int, Field(ge=1, description="Version of the plan, counting from 1.")]


class Strict(BaseModel):
    """Unknown fields rejected, immutable, surrounding white space stripped."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


class Department(StrEnum):
    """A municipal department: the jobcenter's or the social one."""

    EMPLOYMENT = "employment"
    SOCIAL = "social"


class CaseworkerTeam(Strict):
    """A caseworker team (sagsbehandlende team) in one department, or the joint specialist unit."""

    department: Department
    team: Name = Field(examples=["Jobcenter Nord, team 3"])


class ContactPerson(Strict):
    """A named person to contact, with work contact details only."""

    name: Name = Field(examples=["Kim Testesen"])
    phone: Phone | None = Field(default=None, examples=["+45 12 34 56 78"])
    email: Email | None = Field(default=None, examples=["kim.testesen@jobcenter.example"])


def end_not_before_start(start: date | None, end: date | None, what: str = "end") -> None:
    if start is not None and end is not None and end < start:
        raise ValueError(f"{what} must not be before the start")
