from __future__ import annotations

from provider_gateway.domain.credentials import (
    TokenClaims,
    hash_secret,
    issue_token,
    read_token,
    verify_secret,
)

KEY = "k" * 48


def test_secret_is_stored_as_a_salted_slow_hash_and_verifies() -> None:
    stored = hash_secret("correct horse")
    assert stored.startswith("scrypt$") and "correct horse" not in stored
    assert stored != hash_secret("correct horse")
    assert verify_secret("correct horse", stored)
    assert not verify_secret("wrong", stored)
    assert not verify_secret("correct horse", "garbage")


def test_token_round_trips_until_it_expires() -> None:
    token = issue_token(TokenClaims("c1", "p1", expires_at=1_000), KEY)
    assert read_token(token, KEY, now=999) == TokenClaims("c1", "p1", 1_000)
    assert read_token(token, KEY, now=1_000) is None


def test_forged_or_tampered_tokens_are_refused() -> None:
    token = issue_token(TokenClaims("c1", "p1", expires_at=2_000), KEY)
    body, signature = token.split(".")
    other = issue_token(TokenClaims("c1", "p2", expires_at=2_000), KEY).split(".")[0]
    assert read_token(f"{other}.{signature}", KEY, now=1) is None
    assert read_token(token, "x" * 48, now=1) is None
    assert read_token(body, KEY, now=1) is None
    assert read_token("", KEY, now=1) is None
