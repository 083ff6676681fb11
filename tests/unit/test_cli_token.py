"""`samspil token`: a local caseworker token for the department the caller's roles work in."""

from __future__ import annotations

from pathlib import Path

import jwt
import pytest

from samspil.cli import main

SECRET = "a-local-secret-long-enough-for-hs256!"


@pytest.fixture(autouse=True)
def local_issuer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAMSPIL_AUTH_SECRET", SECRET)
    for name in (
        "SAMSPIL_AUTH_JWKS_URL",
        "SAMSPIL_AUTH_ISSUER",
        "SAMSPIL_AUTH_MAX_LIFETIME_SECONDS",
        "EMPLOYMENT_AUTH_AUDIENCE",
        "SOCIAL_AUTH_AUDIENCE",
    ):
        monkeypatch.delenv(name, raising=False)


def token_audience(tmp_path: Path, capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert main(["--state-dir", str(tmp_path), "token", *args]) == 0
    token = capsys.readouterr().out.strip()
    claims = jwt.decode(token, SECRET, algorithms=["HS256"], options={"verify_aud": False})
    audience: str = claims["aud"]
    return audience


@pytest.mark.parametrize(
    ("role", "audience"),
    [
        ("employment-caseworker", "samspil-employment"),
        ("social-caseworker", "samspil-social"),
        ("specialist-unit", "samspil-social"),
    ],
)
def test_token_is_for_the_department_the_role_works_in(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], role: str, audience: str
) -> None:
    assert token_audience(tmp_path, capsys, "--role", role) == audience


def test_token_audience_follows_the_departments_configured_audience(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOCIAL_AUTH_AUDIENCE", "api://socialcenter")
    assert token_audience(tmp_path, capsys, "--role", "specialist-unit") == "api://socialcenter"


def test_roles_of_both_departments_need_to_say_which_department(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    both = ["--role", "employment-caseworker", "--role", "specialist-unit"]
    assert main(["--state-dir", str(tmp_path), "token", *both]) == 1
    assert "--for" in capsys.readouterr().err
    assert token_audience(tmp_path, capsys, *both, "--for", "employment") == "samspil-employment"


def test_token_longer_than_the_services_accept_is_not_issued(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(["--state-dir", str(tmp_path), "token", "--role", "social-caseworker", "--ttl", "3601"]) == 1
    assert "3600" in capsys.readouterr().err
    monkeypatch.setenv("SAMSPIL_AUTH_MAX_LIFETIME_SECONDS", "7200")
    two_hours = token_audience(tmp_path, capsys, "--role", "social-caseworker", "--ttl", "7200")
    assert two_hours == "samspil-social"
