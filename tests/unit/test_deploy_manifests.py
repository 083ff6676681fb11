"""The production manifests start each service with what its settings class needs, so they
cannot drift from the code unnoticed."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic_settings import BaseSettings

from samspil.local.runner import SERVICES

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def compose_services() -> dict[str, Any]:
    services: dict[str, Any] = yaml.safe_load((DEPLOY / "compose/compose.yaml").read_text())["services"]
    return services


def k8s_deployments() -> dict[str, Any]:
    documents = yaml.safe_load_all((DEPLOY / "k8s/samspil.yaml").read_text())
    return {doc["metadata"]["name"]: doc for doc in documents if doc and doc["kind"] == "Deployment"}


@pytest.mark.parametrize("spec", SERVICES, ids=lambda spec: spec.name)
def test_compose_runs_each_service_with_its_database_and_the_broker(spec: Any) -> None:
    service = compose_services()[spec.name]
    assert service["command"] == ["python", "-m", spec.module]
    assert f"{spec.env_prefix}DATABASE_URL" in service["environment"]
    assert service["environment"]["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"


@pytest.mark.parametrize("spec", SERVICES, ids=lambda spec: spec.name)
def test_kubernetes_runs_each_service_with_its_database_probes_and_port(spec: Any) -> None:
    container = k8s_deployments()[spec.name]["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["python", "-m", spec.module]
    names = {item["name"]: item for item in container["env"]}
    assert names[f"{spec.env_prefix}DATABASE_URL"]["valueFrom"]["secretKeyRef"]["key"] == (
        f"{spec.env_prefix}DATABASE_URL"
    )
    assert names[f"{spec.env_prefix}HTTP_PORT"]["value"] == str(container["ports"][0]["containerPort"])
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"


def test_gateway_gets_its_token_secret_everywhere() -> None:
    assert "PROVIDER_GATEWAY_TOKEN_SECRET" in compose_services()["provider-gateway"]["environment"]
    container = k8s_deployments()["provider-gateway"]["spec"]["template"]["spec"]["containers"][0]
    assert "PROVIDER_GATEWAY_TOKEN_SECRET" in {item["name"] for item in container["env"]}


def _settings_class(spec: Any) -> type[BaseSettings]:
    settings = importlib.import_module(f"{spec.module}.settings")
    return next(
        value
        for name, value in vars(settings).items()
        if name.endswith("Settings")
        and isinstance(value, type)
        and issubclass(value, BaseSettings)
        and value.__module__ == settings.__name__
    )


def _required_variables(spec: Any) -> set[str]:
    """The environment variables a service cannot start without (its settings without default)."""
    model = _settings_class(spec)
    names = set()
    for field_name, field in model.model_fields.items():
        if field.is_required():
            alias = field.validation_alias
            choices = getattr(alias, "choices", None)
            names.add(str(choices[0]) if choices else f"{spec.env_prefix}{field_name.upper()}")
    return names


@pytest.mark.parametrize("spec", SERVICES, ids=lambda spec: spec.name)
def test_every_setting_a_service_needs_is_given_everywhere(spec: Any) -> None:
    compose_env = set(compose_services()[spec.name]["environment"])
    container = k8s_deployments()[spec.name]["spec"]["template"]["spec"]["containers"][0]
    k8s_env = {item["name"] for item in container["env"]}
    required = _required_variables(spec)
    assert required, "every service needs at least its database"
    assert required <= compose_env and required <= k8s_env
    if spec.name in ("employment", "social"):
        # Caseworkers' tokens: one way to trust them must be configured.
        for env in (compose_env, k8s_env):
            assert ("SAMSPIL_AUTH_JWKS_URL" in env) != ("SAMSPIL_AUTH_SECRET" in env)


def _settings_default(spec: Any, field_name: str) -> Any:
    return _settings_class(spec).model_fields[field_name].default


@pytest.mark.parametrize("spec", SERVICES, ids=lambda spec: spec.name)
def test_kubernetes_serves_metrics_on_their_own_port_which_the_service_does_not_expose(spec: Any) -> None:
    documents = list(yaml.safe_load_all((DEPLOY / "k8s/samspil.yaml").read_text()))
    deployment = k8s_deployments()[spec.name]
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    env = {item["name"]: item.get("value") for item in container["env"]}
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    metrics_port = _settings_default(spec, "metrics_port")
    assert ports["metrics"] == int(env[f"{spec.env_prefix}METRICS_PORT"]) == metrics_port
    assert ports["metrics"] != ports["http"] == _settings_default(spec, "http_port")
    # Inside the pod: the port is kept internal by the Service and the NetworkPolicy below.
    assert env[f"{spec.env_prefix}METRICS_HOST"] == "0.0.0.0"  # noqa: S104
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/port"] == str(metrics_port)
    service = next(
        d for d in documents if d and d["kind"] == "Service" and d["metadata"]["name"] == spec.name
    )
    assert [port["targetPort"] for port in service["spec"]["ports"]] == ["http"]


def test_kubernetes_lets_only_the_monitoring_namespace_reach_the_metrics_ports() -> None:
    documents = yaml.safe_load_all((DEPLOY / "k8s/samspil.yaml").read_text())
    policy = next(d for d in documents if d and d["kind"] == "NetworkPolicy")
    rules = {
        tuple(port["port"] for port in rule["ports"]): rule.get("from") for rule in policy["spec"]["ingress"]
    }
    monitoring = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}
    assert rules == {("http",): None, ("metrics",): [monitoring]}


@pytest.mark.parametrize("spec", SERVICES, ids=lambda spec: spec.name)
def test_compose_publishes_metrics_on_the_hosts_loopback_only(spec: Any) -> None:
    metrics_port = _settings_default(spec, "metrics_port")
    published = compose_services()[spec.name]["ports"]
    metrics = [port for port in published if port.endswith(f":{metrics_port}")]
    assert metrics == [f"127.0.0.1:{metrics_port}:{metrics_port}"]
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert f"{spec.env_prefix}METRICS_HOST=0.0.0.0" in dockerfile
