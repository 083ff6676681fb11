"""The command line explains itself: every command and argument has help, each command's help
names the environment variables it reads, a command without the local state it needs says so in
one line, and --state-dir is taken before or after the command."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from samspil.cli import build_parser, main
from samspil.local.runner import SERVICES, free_port

DATABASE_COMMANDS = [
    ["dlq", "list", "employment"],
    ["dlq", "replay", "social", "--all"],
    ["outbox", "parked", "employment"],
    ["audit", "verify", "social"],
    ["audit", "protect", "employment", "--admin-url", "postgresql://admin@127.0.0.1/postgres"],
    ["provider", "add", "some-provider"],
    ["webhooks", "list"],
    ["import", "cases.csv", "--actor", "Ida Importør"],
]


@pytest.fixture(autouse=True)
def no_database_urls(monkeypatch: pytest.MonkeyPatch) -> None:
    for spec in SERVICES:
        monkeypatch.delenv(f"{spec.env_prefix}DATABASE_URL", raising=False)
    for name in ("SAMSPIL_STATE_DIR", "SAMSPIL_AUTH_SECRET", "SAMSPIL_AUTH_JWKS_URL"):
        monkeypatch.delenv(name, raising=False)


def subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    (commands,) = (action for action in parser._actions if isinstance(action, argparse._SubParsersAction))
    return dict(commands.choices)


def help_of(name: str, capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as exit_:
        main([name, "--help"])
    assert exit_.value.code == 0
    return capsys.readouterr().out


def test_every_command_and_argument_has_help() -> None:
    parser = build_parser()
    (commands,) = (action for action in parser._actions if isinstance(action, argparse._SubParsersAction))
    assert {choice.dest for choice in commands._choices_actions} == set(subcommands())
    assert all(choice.help for choice in commands._choices_actions)
    for name, sub in subcommands().items():
        undocumented = [action.dest for action in sub._actions if not action.help]
        assert not undocumented, f"{name}: {undocumented}"


@pytest.mark.parametrize(
    ("command", "variables"),
    [
        (
            "up",
            [
                "KAFKA_BOOTSTRAP_SERVERS",
                "<SERVICE>_DATABASE_URL",
                "SAMSPIL_BROKER_PORT",
                "_HTTP_PORT",
                "_STOP_TIMEOUT_SECONDS",
            ],
        ),
        ("dlq", ["<SERVICE>_DATABASE_URL", "SAMSPIL_POSTGRES_PORT", "SAMSPIL_STATE_DIR"]),
        ("outbox", ["<SERVICE>_DATABASE_URL", "SAMSPIL_POSTGRES_PORT"]),
        ("audit", ["<SERVICE>_DATABASE_URL", "SAMSPIL_ADMIN_DATABASE_URL"]),
        ("provider", ["PROVIDER_GATEWAY_DATABASE_URL", "SAMSPIL_POSTGRES_PORT"]),
        ("webhooks", ["PROVIDER_GATEWAY_DATABASE_URL", "SAMSPIL_POSTGRES_PORT"]),
        ("token", ["SAMSPIL_AUTH_SECRET", "SAMSPIL_AUTH_JWKS_URL", "SAMSPIL_AUTH_MAX_LIFETIME_SECONDS"]),
        ("import", ["EMPLOYMENT_DATABASE_URL", "SAMSPIL_CITIZEN_REF_KEY", "EMPLOYMENT_JOB_PLAN_SHARE_BASIS"]),
    ],
)
def test_a_commands_help_names_the_environment_variables_it_reads(
    command: str, variables: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    text = " ".join(help_of(command, capsys).split())
    assert [name for name in variables if name not in text] == []


@pytest.mark.parametrize("command", DATABASE_COMMANDS, ids=" ".join)
def test_a_command_without_local_state_says_so_in_one_line(
    command: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--state-dir", str(tmp_path / "none"), *command]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "no local state" in err and str(tmp_path / "none") in err and "_DATABASE_URL" in err


def test_an_unreachable_database_is_one_line_that_does_not_echo_the_password(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    port = free_port()  # nothing listens there
    monkeypatch.setenv("EMPLOYMENT_DATABASE_URL", f"postgresql://employment:hunter22@127.0.0.1:{port}/x")
    assert main(["dlq", "list", "employment"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"127.0.0.1:{port}" in err
    assert "hunter22" not in err


def test_state_dir_is_taken_after_the_command_too(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    after, before = tmp_path / "after", tmp_path / "before"
    assert main(["token", "--role", "employment-caseworker", "--state-dir", str(after)]) == 0
    assert main(["--state-dir", str(before), "token", "--role", "employment-caseworker"]) == 0
    # The built-in issuer's secret was kept in the folder given, wherever it was given.
    assert (after / "secrets.json").exists() and (before / "secrets.json").exists()
    assert main(["dlq", "list", "employment", "--state-dir", str(after)]) == 1
    assert str(after) in capsys.readouterr().err


def test_state_dir_after_the_command_wins_over_the_one_before(tmp_path: Path) -> None:
    args = build_parser().parse_args(
        ["--state-dir", str(tmp_path / "a"), "outbox", "parked", "social", "--state-dir", str(tmp_path / "b")]
    )
    assert args.state_dir == tmp_path / "b"


def test_state_dir_defaults_to_samspil_state_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SAMSPIL_STATE_DIR", str(tmp_path))
    assert build_parser().parse_args(["stop"]).state_dir == tmp_path
