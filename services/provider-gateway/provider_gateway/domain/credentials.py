"""Provider credentials: client secrets stored only as a slow hash, and short-lived access
tokens from the OAuth2 client-credentials grant.

An access token is a JWT as RFC 9068 profiles it: HS256 with the gateway's token secret, type
``at+jwt``, a ``kid`` naming the key; ``iss`` and ``aud`` name this gateway and its API, ``sub``
and ``client_id`` the client (there is no user in a client-credentials grant), ``provider_id``
whom the client acts for, ``iat``/``exp`` a life of at most 15 minutes, ``jti`` a unique id.
``gen`` is the client's token generation when it was issued: rotating the secret or disabling
the client moves the generation on, so every token issued before is refused from its next
request on (exact, no clock involved).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Any

import jwt

_SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}

DEFAULT_ISSUER = "samspil-provider-gateway"
DEFAULT_AUDIENCE = "samspil-provider-api"
MAX_TOKEN_LIFETIME = 900
ALGORITHM = "HS256"
TOKEN_TYPE = "at+jwt"  # noqa: S105 - the RFC 9068 media type, not a secret
_REQUIRED = ["iss", "aud", "sub", "client_id", "provider_id", "iat", "exp", "jti", "gen"]


def new_client_secret() -> str:
    return secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(secret.encode(), salt=salt, **_SCRYPT)
    return f"scrypt${salt.hex()}${digest.hex()}"


def verify_secret(secret: str, stored: str) -> bool:
    try:
        scheme, salt_hex, digest_hex = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    digest = hashlib.scrypt(secret.encode(), salt=bytes.fromhex(salt_hex), **_SCRYPT)
    return hmac.compare_digest(digest.hex(), digest_hex)


@dataclass(frozen=True)
class TokenClaims:
    """What a token grants: who the client is, whom it acts for, until when, and the client's
    token generation it was issued in."""

    client_id: str
    provider_id: str
    expires_at: int
    generation: int = 0
    token_id: str = ""


class InvalidToken(Exception):
    """The token is not one this gateway issued and still honours. ``reason`` is for the log
    only: a caller is told to get a new token, not what was wrong with this one."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def key_id(key: str) -> str:
    """Names the signing key in the token header without revealing anything of it."""
    return hashlib.sha256(b"samspil-provider-token-key\x00" + key.encode()).hexdigest()[:16]


def issue_token(
    claims: TokenClaims,
    key: str,
    *,
    issuer: str = DEFAULT_ISSUER,
    audience: str = DEFAULT_AUDIENCE,
    now: float | None = None,
) -> str:
    issued_at = int(time.time() if now is None else now)
    payload = {
        "iss": issuer,
        "aud": audience,
        "sub": claims.client_id,
        "client_id": claims.client_id,
        "provider_id": claims.provider_id,
        "gen": claims.generation,
        "iat": issued_at,
        "exp": claims.expires_at,
        "jti": claims.token_id or str(uuid.uuid4()),
    }
    return jwt.encode(payload, key, algorithm=ALGORITHM, headers={"kid": key_id(key), "typ": TOKEN_TYPE})


def read_token(
    token: str,
    key: str,
    *,
    issuer: str = DEFAULT_ISSUER,
    audience: str = DEFAULT_AUDIENCE,
    now: float | None = None,
) -> TokenClaims:
    """The claims of a token this gateway signed for its own API and that has not expired.
    Raises `InvalidToken` otherwise. Whether the client may still use it (not disabled, no
    newer generation) takes the database; see the caller."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.InvalidTokenError:
        raise InvalidToken("not a JWT") from None
    if header.get("alg") != ALGORITHM:
        raise InvalidToken("algorithm is not HS256")
    if header.get("kid") != key_id(key):
        raise InvalidToken("signed with another key (kid)")
    if str(header.get("typ", "")).lower() != TOKEN_TYPE:
        raise InvalidToken("not an access token (typ)")
    try:
        # Expiry is checked below against `now`, so tests and callers share one clock.
        payload: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            audience=audience,
            issuer=issuer,
            options={"require": _REQUIRED, "verify_exp": False, "verify_iat": False},
        )
    except jwt.InvalidSignatureError:
        raise InvalidToken("bad signature") from None
    except jwt.InvalidAudienceError:
        raise InvalidToken("wrong audience") from None
    except jwt.InvalidIssuerError:
        raise InvalidToken("wrong issuer") from None
    except jwt.MissingRequiredClaimError as missing:
        raise InvalidToken(f"claim {missing.claim} missing") from None
    except jwt.InvalidTokenError as invalid:
        raise InvalidToken(f"malformed: {type(invalid).__name__}") from None
    return _claims(payload, time.time() if now is None else now)


def _claims(payload: dict[str, Any], now: float) -> TokenClaims:
    client_id, provider_id = payload["sub"], payload["provider_id"]
    expires_at, issued_at, generation = payload["exp"], payload["iat"], payload["gen"]
    if not all(isinstance(value, str) and value for value in (client_id, provider_id, payload["jti"])):
        raise InvalidToken("sub, provider_id or jti is not a string")
    if payload["client_id"] != client_id:
        raise InvalidToken("client_id is not sub")
    if not all(type(value) is int for value in (expires_at, issued_at, generation)):
        raise InvalidToken("exp, iat or gen is not an integer")
    if expires_at <= now:
        raise InvalidToken("expired")
    if issued_at > now + 5:  # a few seconds' slack for clocks of several gateway processes
        raise InvalidToken("issued in the future")
    if expires_at - issued_at > MAX_TOKEN_LIFETIME:
        raise InvalidToken("lifetime over 15 minutes")
    return TokenClaims(client_id, provider_id, expires_at, generation, payload["jti"])
