from __future__ import annotations

import base64
import json
from typing import Any

import jwt
import pytest

from provider_gateway.domain.credentials import (
    DEFAULT_AUDIENCE,
    DEFAULT_ISSUER,
    InvalidToken,
    TokenClaims,
    hash_secret,
    issue_token,
    key_id,
    read_token,
    verify_secret,
)

KEY = "k" * 48
NOW = 1_800_000_000


def test_secret_is_stored_as_a_salted_slow_hash_and_verifies() -> None:
    stored = hash_secret("correct horse")
    assert stored.startswith("scrypt$") and "correct horse" not in stored
    assert stored != hash_secret("correct horse")
    assert verify_secret("correct horse", stored)
    assert not verify_secret("wrong", stored)
    assert not verify_secret("correct horse", "garbage")


def test_a_token_is_a_standard_jwt_with_the_rfc_9068_claims() -> None:
    token = issue_token(TokenClaims("c1", "p1", NOW + 900, generation=3), KEY, now=NOW)
    header = jwt.get_unverified_header(token)
    assert header == {"alg": "HS256", "typ": "at+jwt", "kid": key_id(KEY)}
    claims = jwt.decode(
        token, KEY, algorithms=["HS256"], audience=DEFAULT_AUDIENCE, options={"verify_iat": False}
    )
    assert {name: claims[name] for name in ("iss", "aud", "sub", "client_id", "provider_id", "gen")} == {
        "iss": DEFAULT_ISSUER,
        "aud": DEFAULT_AUDIENCE,
        "sub": "c1",
        "client_id": "c1",
        "provider_id": "p1",
        "gen": 3,
    }
    assert (claims["iat"], claims["exp"]) == (NOW, NOW + 900)
    other = jwt.decode(
        issue_token(TokenClaims("c1", "p1", NOW + 900), KEY, now=NOW),
        options={"verify_signature": False},
    )
    assert claims["jti"] and other["jti"] != claims["jti"]
    assert key_id(KEY) != key_id("x" * 48) and KEY not in key_id(KEY)


def test_token_round_trips_until_it_expires() -> None:
    token = issue_token(TokenClaims("c1", "p1", NOW + 60, generation=2), KEY, now=NOW)
    claims = read_token(token, KEY, now=NOW + 59)
    assert (claims.client_id, claims.provider_id, claims.expires_at, claims.generation) == (
        "c1",
        "p1",
        NOW + 60,
        2,
    )
    with pytest.raises(InvalidToken, match="expired"):
        read_token(token, KEY, now=NOW + 60)


def _forge(payload: dict[str, Any], key: str = KEY, **header: Any) -> str:
    return jwt.encode(
        payload, key, algorithm="HS256", headers={"kid": key_id(KEY), "typ": "at+jwt", **header}
    )


def _payload(**changes: Any) -> dict[str, Any]:
    payload = {
        "iss": DEFAULT_ISSUER,
        "aud": DEFAULT_AUDIENCE,
        "sub": "c1",
        "client_id": "c1",
        "provider_id": "p1",
        "gen": 0,
        "iat": NOW,
        "exp": NOW + 600,
        "jti": "j1",
    }
    payload.update(changes)
    return {name: value for name, value in payload.items() if value is not None}


def test_the_forged_payload_helper_makes_a_token_that_is_accepted() -> None:
    assert read_token(_forge(_payload()), KEY, now=NOW).client_id == "c1"


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (_payload(aud="samspil-employment"), "wrong audience"),
        (_payload(iss="someone-else"), "wrong issuer"),
        *[
            (_payload(**{claim: None}), f"{claim} missing")
            for claim in ("iss", "aud", "sub", "iat", "exp", "jti")
        ],
        (_payload(provider_id=None), "provider_id missing"),
        (_payload(gen=None), "gen missing"),
        (_payload(client_id="c2"), "client_id is not sub"),
        (_payload(exp=NOW + 901), "lifetime over 15 minutes"),
        (_payload(iat=NOW + 60, exp=NOW + 600), "issued in the future"),
        (_payload(gen="0"), "not an integer"),
        (_payload(provider_id=7), "not a string"),
    ],
)
def test_a_token_missing_or_misstating_a_claim_is_refused(payload: dict[str, Any], reason: str) -> None:
    with pytest.raises(InvalidToken, match=reason):
        read_token(_forge(payload), KEY, now=NOW)


def test_forged_or_tampered_tokens_are_refused() -> None:
    token = issue_token(TokenClaims("c1", "p1", NOW + 600), KEY, now=NOW)
    header, body, signature = token.split(".")
    other_body = issue_token(TokenClaims("c1", "p2", NOW + 600), KEY, now=NOW).split(".")[1]
    with pytest.raises(InvalidToken, match="bad signature"):
        read_token(f"{header}.{other_body}.{signature}", KEY, now=NOW)
    with pytest.raises(InvalidToken, match="kid"):
        read_token(token, "x" * 48, now=NOW)
    with pytest.raises(InvalidToken, match="bad signature"):
        read_token(_forge(_payload(), key="x" * 48), KEY, now=NOW)  # our kid, another key
    for garbage in ("", body, f"{header}.{body}", "a.b.c"):
        with pytest.raises(InvalidToken):
            read_token(garbage, KEY, now=NOW)


def test_only_hs256_is_accepted_whatever_the_header_says() -> None:
    unsigned = _b64({"alg": "none", "typ": "at+jwt", "kid": key_id(KEY)}) + "." + _b64(_payload()) + "."
    with pytest.raises(InvalidToken, match="HS256"):
        read_token(unsigned, KEY, now=NOW)
    hs512 = jwt.encode(_payload(), KEY * 2, algorithm="HS512", headers={"kid": key_id(KEY), "typ": "at+jwt"})
    with pytest.raises(InvalidToken, match="HS256"):
        read_token(hs512, KEY, now=NOW)
    with pytest.raises(InvalidToken, match="typ"):
        read_token(_forge(_payload(), typ="JWT"), KEY, now=NOW)


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()
