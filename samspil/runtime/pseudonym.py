"""CPR numbers and the pseudonymous citizen reference made from them.

Both departments enrol a shared citizen by CPR number and must arrive at the same reference, so
the reference is a keyed hash (HMAC-SHA256) under a key both services hold, prefixed with the
key's id so the key can be rotated. The CPR number itself never leaves the department's database.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import date
from typing import Annotated

from pydantic import AfterValidator, Field

_CPR_FORMAT = re.compile(r"^(\d{2})(\d{2})(\d{2})-?(\d{4})$")


def _century(year_2: int, seventh_digit: int) -> int:
    """The century of the birth year, from the 7th digit (CPR-kontoret's table)."""
    if seventh_digit <= 3:
        return 1900
    if seventh_digit in (4, 9):
        return 2000 if year_2 <= 36 else 1900
    return 2000 if year_2 <= 57 else 1800


def normalise_cpr(value: str) -> str:
    """``DDMMYY-SSSS`` or ten digits, with a real birth date, as ten digits.

    Numbers without a valid modulus-11 check digit have been issued since 2007, so no check
    digit test is made."""
    match = _CPR_FORMAT.match(value.strip())
    if match is None:
        raise ValueError("must be a CPR number: ten digits, DDMMYY-SSSS")
    day, month, year_2, serial = match.groups()
    try:
        date(_century(int(year_2), int(serial[0])) + int(year_2), int(month), int(day))
    except ValueError:
        raise ValueError("must start with a real birth date (DDMMYY)") from None
    return f"{day}{month}{year_2}{serial}"


Cpr = Annotated[
    str,
    Field(description="CPR number, DDMMYY-SSSS or ten digits.", examples=["010203-1234"]),
    AfterValidator(normalise_cpr),
]


def citizen_ref_for(cpr: str, key: str, key_id: str) -> str:
    """The pseudonymous reference of a CPR number: ``<key id>:<HMAC-SHA256 hex>``."""
    digest = hmac.new(key.encode(), normalise_cpr(cpr).encode(), hashlib.sha256).hexdigest()
    return f"{key_id}:{digest}"
