"""A small OpenID Connect provider for tests: a real HTTP server on a free port serving the
discovery document, the authorization endpoint, the token endpoint (authorization code with
PKCE S256, client secret by HTTP Basic) and the JWKS, signing ID tokens with its own RSA key.

It logs in, without asking, whoever the test put in `login_as` (a real provider would show its
own login page first); `rogue_key` makes it sign with a key it does not publish."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

KID = "test-key-1"


@dataclass
class Grant:
    client_id: str
    redirect_uri: str
    challenge: str
    nonce: str
    claims: dict[str, Any]


@dataclass
class OidcProvider:
    client_id: str = "samspil-portal"
    client_secret: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    issuer: str = ""
    login_as: dict[str, Any] = field(default_factory=dict)
    rogue_key: bool = False
    requests: list[str] = field(default_factory=list)
    token_requests: list[dict[str, str]] = field(default_factory=list)
    _key: rsa.RSAPrivateKey = field(default_factory=lambda: rsa.generate_private_key(65537, 2048))
    _grants: dict[str, Grant] = field(default_factory=dict)

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "jwks_uri": f"{self.issuer}/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic"],
        }

    def jwks(self) -> dict[str, Any]:
        public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self._key.public_key()))
        return {"keys": [{**public, "kid": KID, "use": "sig", "alg": "RS256"}]}

    def authorize(self, query: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        redirect_uri = query.get("redirect_uri", "")
        if (
            query.get("client_id") != self.client_id
            or query.get("response_type") != "code"
            or query.get("code_challenge_method") != "S256"
            or not query.get("code_challenge")
            or "openid" not in query.get("scope", "").split()
        ):
            return 400, {}, b"bad authorization request"
        code = secrets.token_urlsafe(16)
        self._grants[code] = Grant(
            self.client_id, redirect_uri, query["code_challenge"], query.get("nonce", ""), dict(self.login_as)
        )
        location = f"{redirect_uri}?{urlencode({'code': code, 'state': query.get('state', '')})}"
        return 302, {"Location": location}, b""

    def token(self, authorization: str, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        self.token_requests.append(form)
        scheme, _, credentials = authorization.partition(" ")
        client_id, _, secret = base64.b64decode(credentials or "").decode().partition(":")
        if scheme.lower() != "basic" or (client_id, secret) != (self.client_id, self.client_secret):
            return 401, {"error": "invalid_client"}
        grant = self._grants.pop(form.get("code", ""), None)  # a code is good once
        verifier = form.get("code_verifier", "")
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
        if (
            grant is None
            or form.get("grant_type") != "authorization_code"
            or form.get("redirect_uri") != grant.redirect_uri
            or challenge != grant.challenge
        ):
            return 400, {"error": "invalid_grant"}
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": self.client_id,
            "iat": now,
            "exp": now + 300,
            "nonce": grant.nonce,
            **grant.claims,
        }
        key = rsa.generate_private_key(65537, 2048) if self.rogue_key else self._key
        id_token = jwt.encode(claims, key, algorithm="RS256", headers={"kid": KID})
        return 200, {"access_token": secrets.token_urlsafe(16), "token_type": "Bearer", "id_token": id_token}


@contextmanager
def running_oidc_provider() -> Iterator[OidcProvider]:
    provider = OidcProvider()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            for name, value in (headers or {"Content-Type": "application/json"}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            provider.requests.append(url.path)
            query = {name: values[0] for name, values in parse_qs(url.query).items()}
            if url.path == "/.well-known/openid-configuration":
                self._answer(200, json.dumps(provider.discovery()).encode())
            elif url.path == "/jwks":
                self._answer(200, json.dumps(provider.jwks()).encode())
            elif url.path == "/authorize":
                status, headers, body = provider.authorize(query)
                self._answer(status, body, headers or {"Content-Type": "text/plain"})
            else:
                self._answer(404, b"{}")

        def do_POST(self) -> None:
            provider.requests.append(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            form = {name: values[0] for name, values in parse_qs(self.rfile.read(length).decode()).items()}
            if self.path != "/token":
                self._answer(404, b"{}")
                return
            status, answer = provider.token(self.headers.get("Authorization", ""), form)
            self._answer(status, json.dumps(answer).encode())

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    provider.issuer = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield provider
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
