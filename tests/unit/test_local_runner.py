"""The local runner hands each service process only what it needs, and keeps its logs private."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from samspil.local.broker import CLIENT_ENV
from samspil.local.files import open_private_log, private_directory
from samspil.local.runner import SERVICES, LocalStack, spec_of

GIVEN = {
    "PATH": "/usr/bin",
    "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9092",
    "PROVIDER_GATEWAY_TOKEN_SECRET": "gateway-token-secret-" + "g" * 32,
    "SAMSPIL_AUTH_SECRET": "staff-token-secret-" + "s" * 32,
    "SAMSPIL_CITIZEN_REF_KEY": "citizen-reference-key-" + "c" * 32,
    "EMPLOYMENT_TASK_DAYS": "5",
    **{f"{spec.env_prefix}DATABASE_URL": f"postgresql://{spec.database}:pw@db/x" for spec in SERVICES},
}


def environments(tmp_path: Path, given: dict[str, str]) -> dict[str, dict[str, str]]:
    stack = LocalStack(state_dir=tmp_path, env=given)
    stack.database_urls = {spec.name: given[f"{spec.env_prefix}DATABASE_URL"] for spec in SERVICES}
    return {spec.name: stack.service_env(spec) for spec in SERVICES}


def test_gateway_process_gets_no_staff_secret_nor_the_citizen_reference_key(tmp_path: Path) -> None:
    gateway = environments(tmp_path, GIVEN)["provider-gateway"]
    assert "SAMSPIL_AUTH_SECRET" not in gateway and "SAMSPIL_CITIZEN_REF_KEY" not in gateway
    departments_own = {"EMPLOYMENT_DATABASE_URL", "SOCIAL_DATABASE_URL", "EMPLOYMENT_TASK_DAYS"}
    assert not departments_own & set(gateway)
    assert gateway["PROVIDER_GATEWAY_TOKEN_SECRET"] == GIVEN["PROVIDER_GATEWAY_TOKEN_SECRET"]
    assert gateway["KAFKA_BOOTSTRAP_SERVERS"] == GIVEN["KAFKA_BOOTSTRAP_SERVERS"]


def test_gateway_gets_no_staff_secret_when_the_runner_makes_one_either(tmp_path: Path) -> None:
    given = {name: value for name, value in GIVEN.items() if name != "SAMSPIL_AUTH_SECRET"}
    envs = environments(tmp_path, given)
    assert "SAMSPIL_AUTH_SECRET" not in envs["provider-gateway"]
    assert envs["employment"]["SAMSPIL_AUTH_SECRET"] == envs["social"]["SAMSPIL_AUTH_SECRET"]


@pytest.mark.parametrize("department", ["employment", "social"])
def test_departments_get_their_shared_secrets_but_not_the_gateways(tmp_path: Path, department: str) -> None:
    env = environments(tmp_path, GIVEN)[department]
    assert env["SAMSPIL_AUTH_SECRET"] == GIVEN["SAMSPIL_AUTH_SECRET"]
    assert env["SAMSPIL_CITIZEN_REF_KEY"] == GIVEN["SAMSPIL_CITIZEN_REF_KEY"]
    assert "PROVIDER_GATEWAY_TOKEN_SECRET" not in env
    own = next(spec for spec in SERVICES if spec.name == department).env_prefix
    assert [name for name in env if name.endswith("_DATABASE_URL")] == [f"{own}DATABASE_URL"]


def test_on_the_embedded_broker_only_the_social_service_fetches_less_often(tmp_path: Path) -> None:
    envs = environments(tmp_path, {**GIVEN, **CLIENT_ENV})
    waits = {name: env["KAFKA_FETCH_MAX_WAIT_MS"] for name, env in envs.items()}
    assert waits == {"provider-gateway": "20", "employment": "20", "social": "100"}
    # An operator's own wait is everyone's.
    envs = environments(tmp_path, {**GIVEN, "KAFKA_FETCH_MAX_WAIT_MS": "300"})
    assert {env["KAFKA_FETCH_MAX_WAIT_MS"] for env in envs.values()} == {"300"}


def test_each_service_gets_its_own_metrics_port_kept_across_restarts(tmp_path: Path) -> None:
    stack = LocalStack(state_dir=tmp_path, env={**GIVEN, "SOCIAL_METRICS_PORT": "19182"})
    stack.database_urls = {spec.name: "postgresql://x@db/x" for spec in SERVICES}
    ports = {spec.name: int(stack.service_env(spec)[f"{spec.env_prefix}METRICS_PORT"]) for spec in SERVICES}
    assert ports["social"] == 19182 and len(set(ports.values())) == 3
    assert set(ports.values()).isdisjoint(stack.port(spec.name) for spec in SERVICES)
    again = {spec.name: int(stack.service_env(spec)[f"{spec.env_prefix}METRICS_PORT"]) for spec in SERVICES}
    assert again == ports


def test_private_directory_tightens_an_existing_open_folder(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir(mode=0o755)
    logs.chmod(0o755)
    private_directory(logs)
    assert stat.S_IMODE(logs.stat().st_mode) == 0o700
    fresh = private_directory(tmp_path / "fresh")
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o700


def test_private_log_is_owner_only_whether_new_or_already_world_readable(tmp_path: Path) -> None:
    existing = tmp_path / "employment.log"
    existing.write_bytes(b"earlier line\n")
    existing.chmod(0o644)
    with open_private_log(existing) as log:
        log.write(b"later line\n")
    assert stat.S_IMODE(existing.stat().st_mode) == 0o600
    assert existing.read_bytes() == b"earlier line\nlater line\n"
    with open_private_log(tmp_path / "new.log") as log:
        log.write(b"x")
    assert stat.S_IMODE((tmp_path / "new.log").stat().st_mode) == 0o600


def test_replicas_are_instances_of_the_departments_each_on_its_own_ports(tmp_path: Path) -> None:
    stack = LocalStack(state_dir=tmp_path, env=GIVEN, replicas=2)
    stack.database_urls = {spec.name: GIVEN[f"{spec.env_prefix}DATABASE_URL"] for spec in SERVICES}
    assert stack.all_instances() == ["provider-gateway", "employment", "employment-2", "social", "social-2"]
    assert (
        spec_of("employment-2").name == "employment"
        and spec_of("provider-gateway").name == "provider-gateway"
    )
    with pytest.raises(KeyError):
        spec_of("employment-two")
    first, second = (stack.service_env(spec_of(name), name) for name in ("employment", "employment-2"))
    # Same service, same database, so one consumer group and one relay leader between them.
    assert first["EMPLOYMENT_DATABASE_URL"] == second["EMPLOYMENT_DATABASE_URL"]
    assert first["EMPLOYMENT_HTTP_PORT"] == "8081" and second["EMPLOYMENT_HTTP_PORT"] != "8081"
    assert first["EMPLOYMENT_METRICS_PORT"] != second["EMPLOYMENT_METRICS_PORT"]
    # Kept for the life of the stack, so a restarted replica comes back where it was.
    assert stack.service_env(spec_of("employment-2"), "employment-2") == second


def test_the_local_gateway_runs_in_local_mode(tmp_path: Path) -> None:
    # Its OAuth2 metadata then names the local http address (no PROVIDER_GATEWAY_PUBLIC_URL needed).
    gateway = environments(tmp_path, GIVEN)["provider-gateway"]
    assert gateway["PROVIDER_GATEWAY_LOCAL_MODE"] == "true"
    given = {**GIVEN, "PROVIDER_GATEWAY_LOCAL_MODE": "false"}
    assert environments(tmp_path, given)["provider-gateway"]["PROVIDER_GATEWAY_LOCAL_MODE"] == "false"
