"""CPR numbers and the pseudonymous citizen reference made from them.

Both departments enrol a shared citizen by CPR number and must arrive at the same reference, so
the reference is a keyed hash (HMAC-SHA256) under a key both services hold, prefixed with the
key's id so the key can be rotated. The CPR number itself never leaves the department's database.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Annotated

from pydantic import AfterValidator, Field

from schemas.cpr import birth_date, read_cpr


def normalise_cpr(value: str) -> str:
    """A CPR number as ten ASCII digits, however it was typed (``DDMMYY-SSSS``, ten digits,
    spaces or another dash around the dash, any script's digits), with a real birth date: the
    same person always gets the same reference.

    Numbers without a valid modulus-11 check digit have been issued since 2007, so no check
    digit test is made."""
    digits = read_cpr(value)
    if digits is None:
        raise ValueError("must be a CPR number: ten digits, DDMMYY-SSSS")
    if birth_date(digits) is None:
        raise ValueError("must start with a real birth date (DDMMYY)")
    return digits


Cpr = Annotated[
    str,
    Field(description="CPR number, DDMMYY-SSSS or ten digits.", examples=["010203-1234"]),
    AfterValidator(normalise_cpr),
]


def citizen_ref_for(cpr: str, key: str, key_id: str) -> str:
    """The pseudonymous reference of a CPR number: ``<key id>:<HMAC-SHA256 hex>``."""
    digest = hmac.digest(key.encode(), normalise_cpr(cpr).encode(), hashlib.sha256).hex()
    return f"{key_id}:{digest}"
