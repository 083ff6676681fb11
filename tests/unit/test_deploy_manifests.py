"""The production manifests start each service with what its settings class needs, so they
cannot drift from the code unnoticed."""

from __future__ import annotations

import importlib
import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic_settings import BaseSettings

from samspil import deploy
from samspil.cli import main
from samspil.local.runner import SERVICES
from schemas.topics import CATALOGUE
from tests.deploy_files import (
    DEPLOY,
    JOBS,
    K8S,
    KAFKA,
    ROOT,
    compose,
    compose_services,
    k8s_deployments,
    k8s_of_kind,
    kustomize,
)


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


def test_gateway_gets_its_public_https_address_everywhere_and_no_local_mode() -> None:
    # Its OAuth2 metadata names the token endpoint there (503 without it outside local mode).
    environment = compose_services()["provider-gateway"]["environment"]
    assert environment["PROVIDER_GATEWAY_PUBLIC_URL"] == "${GATEWAY_PUBLIC_URL:?set GATEWAY_PUBLIC_URL}"
    container = k8s_deployments()["provider-gateway"]["spec"]["template"]["spec"]["containers"][0]
    names = {item["name"]: item for item in container["env"]}
    assert names["PROVIDER_GATEWAY_PUBLIC_URL"]["value"].startswith("https://")
    for env in (environment, names):
        assert not {"PROVIDER_GATEWAY_LOCAL_MODE", "PROVIDER_GATEWAY_WEBHOOK_LOCAL_MODE"} & set(env)


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
    documents = kustomize()
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
    service = next(d for d in documents if d["kind"] == "Service" and d["metadata"]["name"] == spec.name)
    assert [port["targetPort"] for port in service["spec"]["ports"]] == ["http"]


@pytest.mark.parametrize("spec", SERVICES, ids=lambda spec: spec.name)
def test_compose_publishes_metrics_on_the_hosts_loopback_only(spec: Any) -> None:
    metrics_port = _settings_default(spec, "metrics_port")
    published = compose_services()[spec.name]["ports"]
    metrics = [port for port in published if port.endswith(f":{metrics_port}")]
    assert metrics == [f"127.0.0.1:{metrics_port}:{metrics_port}"]
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert f"{spec.env_prefix}METRICS_HOST=0.0.0.0" in dockerfile


# -- Compose: data that survives, health that is checked, variables that are declared ------------


def test_compose_keeps_kafkas_log_in_its_volume() -> None:
    kafka = compose_services()["kafka"]
    log_dir = kafka["environment"]["KAFKA_LOG_DIRS"]
    mounts = dict(volume.split(":")[:2] for volume in kafka["volumes"])
    assert mounts == {"kafka-data": log_dir}
    assert "kafka-data" in compose()["volumes"]
    # The formatted log directory belongs to one cluster id: it must not change between starts.
    assert kafka["environment"]["CLUSTER_ID"]


@pytest.mark.parametrize("name", ["kafka", "postgres", *(spec.name for spec in SERVICES)])
def test_compose_checks_the_health_of_every_long_running_service(name: str) -> None:
    service = compose_services()[name]
    assert service["healthcheck"]["test"]
    assert service.get("restart") != "on-failure", "one-off jobs have no health to check"


@pytest.mark.parametrize("spec", SERVICES, ids=lambda spec: spec.name)
def test_compose_takes_a_service_as_healthy_when_its_readiness_endpoint_says_so(spec: Any) -> None:
    check = " ".join(compose_services()[spec.name]["healthcheck"]["test"])
    assert f"http://127.0.0.1:{_settings_default(spec, 'http_port')}/readyz" in check


def test_compose_runs_audit_protect_once_every_service_is_healthy() -> None:
    job = compose_services()["audit-protect"]
    assert {spec.name for spec in SERVICES} <= set(job["depends_on"])
    assert all(job["depends_on"][spec.name] == {"condition": "service_healthy"} for spec in SERVICES)


def test_compose_lists_at_its_top_every_variable_it_reads() -> None:
    text = (DEPLOY / "compose/compose.yaml").read_text()
    uses = re.findall(r"(?<!\$)\$\{(\w+)(:[?-])?", text)
    required = {name for name, how in uses if how == ":?"}
    optional = {name for name, how in uses if how == ":-"}
    bare = {name for name, how in uses if not how}
    assert not bare, f"give these :? (required) or :- (a default): {bare}"
    document = compose()
    assert set(document["x-required-variables"]) == required
    assert set(document["x-optional-variables"]) == optional
    for name, default in document["x-optional-variables"].items():
        assert f"${{{name}:-{default}}}" in text
    header = text.split("\nx-required-variables:")[0]
    assert all(name in header for name in required | optional), "the comment block names them all"


# -- Kubernetes ------------------------------------------------------------------------------------


def test_the_checked_in_kafka_topics_are_the_generators_output() -> None:
    assert (KAFKA / "topics.yaml").read_text() == deploy.render_topics(), (
        "deploy/k8s/kafka/topics.yaml is stale: run make deploy-files"
    )


def test_deleting_the_application_cannot_delete_the_topics() -> None:
    # `kubectl delete -k deploy/k8s` deletes what that kustomization renders: no topic among it.
    assert not k8s_of_kind("KafkaTopic")
    assert {document["kind"] for document in kustomize(KAFKA)} <= {"KafkaTopic", "KafkaUser"}


def test_the_topic_generator_writes_the_strimzi_api_version_asked_for() -> None:
    older = yaml.safe_load_all(deploy.render_topics(api_version="kafka.strimzi.io/v1beta2"))
    assert {document["apiVersion"] for document in older if document} == {"kafka.strimzi.io/v1beta2"}
    with pytest.raises(ValueError, match="api_version"):
        deploy.render_topics(api_version="kafka.strimzi.io/v2")


def test_the_topic_generator_refuses_fewer_than_one_replica() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        deploy.render_topics(replicas=0)


def test_the_deploy_command_takes_the_api_version_and_refuses_no_replicas(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["deploy", "topics", "--api-version", "v1beta2", "--replicas", "1"]) == 0
    written = [document for document in yaml.safe_load_all(capsys.readouterr().out) if document]
    assert {document["apiVersion"] for document in written} == {"kafka.strimzi.io/v1beta2"}
    assert {document["spec"]["replicas"] for document in written} == {1}
    for refused in (["--replicas", "0"], ["--replicas", "-1"], ["--api-version", "v2"]):
        with pytest.raises(SystemExit) as exit_:
            main(["deploy", "topics", *refused])
        assert exit_.value.code == 2
    assert "at least 1" in capsys.readouterr().err


def test_kubernetes_has_a_kafka_topic_per_catalogue_topic_for_the_cluster_the_services_use() -> None:
    topics = k8s_of_kind("KafkaTopic", KAFKA)
    assert set(topics) == {topic.name for topic in CATALOGUE}
    config = k8s_of_kind("ConfigMap")["samspil-config"]["data"]
    for topic in CATALOGUE:
        resource = topics[topic.name]
        assert resource["spec"]["partitions"] == topic.partitions
        assert resource["spec"]["config"]["retention.ms"] == topic.retention_ms
        assert resource["spec"]["replicas"] == int(config["KAFKA_REPLICATION_FACTOR"])
        cluster = resource["metadata"]["labels"]["strimzi.io/cluster"]
        namespace = resource["metadata"]["namespace"]
        # Strimzi names the bootstrap Service <cluster>-kafka-bootstrap.
        assert config["KAFKA_BOOTSTRAP_SERVERS"].startswith(f"{cluster}-kafka-bootstrap.{namespace}.svc:")


@pytest.mark.parametrize("spec", SERVICES, ids=lambda spec: spec.name)
def test_kubernetes_services_leave_topics_to_strimzi(spec: Any) -> None:
    container = k8s_deployments()[spec.name]["spec"]["template"]["spec"]["containers"][0]
    assert {"configMapRef": {"name": "samspil-config"}} in container["envFrom"]
    assert k8s_of_kind("ConfigMap")["samspil-config"]["data"]["KAFKA_CREATE_TOPICS"] == "false"
    assert "KAFKA_CREATE_TOPICS" not in {item["name"] for item in container["env"]}


@pytest.mark.parametrize("spec", SERVICES, ids=lambda spec: spec.name)
def test_kubernetes_keeps_one_pod_of_each_service_through_a_voluntary_disruption(spec: Any) -> None:
    deployment = k8s_deployments()[spec.name]
    budgets = [
        budget
        for budget in k8s_of_kind("PodDisruptionBudget").values()
        if budget["spec"]["selector"] == deployment["spec"]["selector"]
    ]
    assert len(budgets) == 1
    assert 1 <= budgets[0]["spec"]["minAvailable"] < deployment["spec"]["replicas"]
    # Unready pods (every one, while Kafka is away) must not block a node drain.
    assert budgets[0]["spec"]["unhealthyPodEvictionPolicy"] == "AlwaysAllow"


def _images(documents: list[dict[str, Any]]) -> list[str]:
    return [
        container["image"]
        for document in documents
        if document["kind"] in ("Deployment", "Job")
        for container in document["spec"]["template"]["spec"]["containers"]
    ]


def test_every_image_is_pinned_to_the_projects_version() -> None:
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    images = _images([*kustomize(), *kustomize(JOBS)])
    compose_images = [service["image"] for service in compose_services().values() if "build" in service]
    assert len(images) == 4 and len(compose_images) == 4
    assert set(images) | set(compose_images) == {f"samspil:{version}"}
    # Where a release pins it (`kustomize edit set image`): both kustomizations that run it.
    for directory in (K8S, JOBS):
        entries = yaml.safe_load((directory / "kustomization.yaml").read_text())["images"]
        assert entries == [{"name": "samspil", "newTag": version}]


def test_compose_builds_the_image_and_never_pulls_it() -> None:
    # A pull of "samspil:0.1.0" would fetch whatever a public registry holds under that name.
    built = {name: service for name, service in compose_services().items() if "build" in service}
    assert built and all(service["pull_policy"] == "build" for service in built.values())


def _pinned_copy(tmp_path: Path) -> list[Path]:
    """deploy/k8s copied with its images pinned by digest, as `kustomize edit set image` does."""
    copy = tmp_path / "k8s"
    shutil.copytree(K8S, copy)
    for directory in (copy, copy / "jobs"):
        path = directory / "kustomization.yaml"
        kustomization = yaml.safe_load(path.read_text())
        kustomization["images"] = [
            {"name": "samspil", "newName": "registry.example/samspil", "digest": DIGEST}
        ]
        path.write_text(yaml.safe_dump(kustomization))
    return [copy, copy / "jobs"]


DIGEST = "sha256:" + "0123456789abcdef" * 4


def test_a_release_can_pin_every_image_by_digest(tmp_path: Path) -> None:
    pinned = [document for directory in _pinned_copy(tmp_path) for document in kustomize(directory)]
    assert set(_images(pinned)) == {f"registry.example/samspil@{DIGEST}"}
    assert len(_images(pinned)) == 4


@pytest.mark.parametrize("spec", SERVICES, ids=lambda spec: spec.name)
def test_kubernetes_gives_a_pod_time_for_its_orderly_stop(spec: Any) -> None:
    pod = k8s_deployments()[spec.name]["spec"]["template"]["spec"]
    container = pod["containers"][0]
    env = {item["name"]: item.get("value") for item in container["env"]}
    stop_timeout = float(env[f"{spec.env_prefix}STOP_TIMEOUT_SECONDS"])
    assert stop_timeout == _settings_default(spec, "stop_timeout_seconds")
    pre_stop = container["lifecycle"]["preStop"]["exec"]["command"]
    assert pre_stop[0] == "sleep"
    # The grace period runs from the preStop hook: it must cover that, the stop, and a margin.
    assert pod["terminationGracePeriodSeconds"] >= int(pre_stop[1]) + stop_timeout + 5
    assert container["startupProbe"]["httpGet"]["path"] == "/healthz"


def _policies() -> list[dict[str, Any]]:
    return list(k8s_of_kind("NetworkPolicy").values())


def _pods_labels() -> dict[str, dict[str, str]]:
    return {name: d["spec"]["template"]["metadata"]["labels"] for name, d in k8s_deployments().items()}


def _selects(policy: dict[str, Any], labels: dict[str, str]) -> bool:
    selector = policy["spec"]["podSelector"]
    matches = all(labels.get(key) == value for key, value in selector.get("matchLabels", {}).items())
    for expression in selector.get("matchExpressions", []):
        assert expression["operator"] == "In"
        matches = matches and labels.get(expression["key"]) in expression["values"]
    return matches


def _allowed(service: str) -> set[tuple[str, str]]:
    """(port name, who) pairs a service's pods take ingress from, by the namespace's policies."""
    allowed = set()
    for policy in _policies():
        if not _selects(policy, _pods_labels()[service]):
            continue
        assert policy["spec"]["policyTypes"] == ["Ingress"]
        for rule in policy["spec"].get("ingress", []):
            sources = rule.get("from")
            who = "anywhere" if sources is None else yaml.safe_dump(sources, sort_keys=True).strip()
            for port in rule["ports"]:
                allowed.add((port["port"], who))
    return allowed


def test_kubernetes_denies_ingress_unless_a_policy_allows_it() -> None:
    deny = [p for p in _policies() if p["spec"]["podSelector"] == {} and "ingress" not in p["spec"]]
    assert len(deny) == 1 and deny[0]["spec"]["policyTypes"] == ["Ingress"]


def test_kubernetes_lets_only_the_gateway_take_traffic_from_anywhere() -> None:
    monitoring = yaml.safe_dump(
        [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}],
        sort_keys=True,
    ).strip()
    clients = yaml.safe_dump(
        [{"namespaceSelector": {"matchLabels": {"samspil-department-clients": "true"}}}], sort_keys=True
    ).strip()
    assert _allowed("provider-gateway") == {("http", "anywhere"), ("metrics", monitoring)}
    for department in ("employment", "social"):
        assert _allowed(department) == {("http", clients), ("metrics", monitoring)}


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl (with its kustomize) is not installed")
@pytest.mark.parametrize(
    "directory",
    [K8S, KAFKA, JOBS, "pinned", "pinned/jobs"],
    ids=["k8s", "kafka", "jobs", "pinned", "pinned-jobs"],
)
def test_the_tests_render_the_manifests_as_kustomize_does(directory: Path | str, tmp_path: Path) -> None:
    if isinstance(directory, str):  # the manifests pinned by digest, as a release does
        directory = _pinned_copy(tmp_path)[directory.count("/")]
    rendered = subprocess.run(
        ["kubectl", "kustomize", str(directory)], capture_output=True, text=True, check=True, timeout=60
    ).stdout

    def key(document: dict[str, Any]) -> tuple[str, str, str]:
        return (document["kind"], document["metadata"].get("namespace", ""), document["metadata"]["name"])

    theirs = [document for document in yaml.safe_load_all(rendered) if document]
    assert sorted(kustomize(directory), key=key) == sorted(theirs, key=key)


# -- Pod Security "restricted" ----------------------------------------------------------------------

# The volume types Pod Security "restricted" admits.
RESTRICTED_VOLUMES = {
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
}


def _workloads() -> list[dict[str, Any]]:
    """Every Deployment and Job: the app's and the one-off Job applied after it."""
    documents = [*kustomize(), *kustomize(JOBS)]
    return [document for document in documents if document["kind"] in ("Deployment", "Job")]


def _pod_specs() -> dict[str, dict[str, Any]]:
    return {
        f"{document['kind']}/{document['metadata']['name']}": document["spec"]["template"]["spec"]
        for document in _workloads()
    }


def test_every_pod_meets_pod_security_restricted() -> None:
    pods = _pod_specs()
    assert len(pods) == 4
    for name, pod in pods.items():
        assert pod["automountServiceAccountToken"] is False, name
        assert not any(pod.get(host) for host in ("hostNetwork", "hostPID", "hostIPC")), name
        for volume in pod.get("volumes", []):
            assert set(volume) - {"name"} <= RESTRICTED_VOLUMES, (name, volume)
        pod_context = pod.get("securityContext", {})
        for container in [*pod.get("initContainers", []), *pod["containers"]]:
            context = container.get("securityContext", {})
            where = (name, container["name"])
            # A container's own setting wins over the pod's.
            effective = {**pod_context, **context}
            assert effective.get("runAsNonRoot") is True, where
            assert effective.get("runAsUser") != 0, where
            assert effective.get("seccompProfile") == {"type": "RuntimeDefault"}, where
            assert context.get("allowPrivilegeEscalation") is False, where
            assert context.get("privileged", False) is False, where
            assert "ALL" in context["capabilities"]["drop"], where
            assert set(context["capabilities"].get("add", [])) <= {"NET_BIND_SERVICE"}, where
            assert context.get("readOnlyRootFilesystem") is True, where


def test_the_namespace_enforces_pod_security_restricted() -> None:
    namespace = k8s_of_kind("Namespace")["samspil"]
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    assert {document["metadata"].get("namespace") for document in _workloads()} == {"samspil"}


# -- Kafka over mutual TLS, PostgreSQL verify-full ------------------------------------------------


def _environment(container: dict[str, Any]) -> dict[str, str]:
    """A container's environment as the pod gets it: the ConfigMap, then its own (secrets as
    the name of the secret's key)."""
    config = k8s_of_kind("ConfigMap")["samspil-config"]["data"]
    env = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            env.update(config)
    for item in container["env"]:
        reference = item.get("valueFrom", {})
        if "configMapKeyRef" in reference:
            env[item["name"]] = config[reference["configMapKeyRef"]["key"]]
        elif "secretKeyRef" in reference:
            env[item["name"]] = f"secret:{reference['secretKeyRef']['key']}"
        else:
            env[item["name"]] = item["value"]
    return env


def _mounted_file(pod: dict[str, Any], container: dict[str, Any], path: str) -> tuple[str, str]:
    """(secret, key) of the file at ``path`` in the container, mounted read-only from a secret."""
    (mount,) = [m for m in container["volumeMounts"] if path.startswith(m["mountPath"].rstrip("/") + "/")]
    assert mount["readOnly"] is True, path
    (volume,) = [v for v in pod["volumes"] if v["name"] == mount["name"]]
    inside = path.removeprefix(mount["mountPath"].rstrip("/") + "/")
    (key,) = [item["key"] for item in volume["secret"]["items"] if item["path"] == inside]
    return volume["secret"]["secretName"], key


@pytest.mark.parametrize("spec", SERVICES, ids=lambda spec: spec.name)
def test_kubernetes_connects_every_service_to_kafka_over_mutual_tls(spec: Any) -> None:
    pod = k8s_deployments()[spec.name]["spec"]["template"]["spec"]
    container = pod["containers"][0]
    env = _environment(container)
    assert env["KAFKA_SECURITY_PROTOCOL"] == "SSL"
    assert env["KAFKA_BOOTSTRAP_SERVERS"].endswith(":9093"), "Strimzi's TLS listener"
    # The brokers' certificates are checked against Strimzi's cluster CA.
    assert _mounted_file(pod, container, env["KAFKA_SSL_CA_FILE"]) == ("kafka-cluster-ca-cert", "ca.crt")
    # The service presents its own KafkaUser's certificate.
    user, cert_key = _mounted_file(pod, container, env["KAFKA_SSL_CERT_FILE"])
    assert (user, "user.key") == _mounted_file(pod, container, env["KAFKA_SSL_KEY_FILE"])
    assert cert_key == "user.crt" and user == f"samspil-{spec.name}"
    users = k8s_of_kind("KafkaUser", KAFKA)
    assert users[user]["spec"]["authentication"] == {"type": "tls"}
    cluster = users[user]["metadata"]["labels"]["strimzi.io/cluster"]
    assert env["KAFKA_BOOTSTRAP_SERVERS"].startswith(
        f"{cluster}-kafka-bootstrap.{users[user]['metadata']['namespace']}."
    )


def test_kubernetes_has_a_kafka_user_per_service_and_no_other() -> None:
    users = k8s_of_kind("KafkaUser", KAFKA)
    assert set(users) == {f"samspil-{spec.name}" for spec in SERVICES}
    topics_namespace = {topic["metadata"]["namespace"] for topic in k8s_of_kind("KafkaTopic", KAFKA).values()}
    assert {user["metadata"]["namespace"] for user in users.values()} == topics_namespace


@pytest.mark.parametrize("spec", SERVICES, ids=lambda spec: spec.name)
def test_each_service_accepts_the_kafka_settings_kubernetes_gives_it(
    spec: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    container = k8s_deployments()[spec.name]["spec"]["template"]["spec"]["containers"][0]
    for name, given in _environment(container).items():
        if given.startswith("secret:"):  # a stand-in of the right shape
            given = "postgresql://u@db/d" if name.endswith("DATABASE_URL") else "k" * 32
        elif name.startswith("KAFKA_SSL_") and name.endswith("_FILE"):
            # The settings check the files exist: the mounted paths, under a directory of the test's.
            mounted = tmp_path / given.lstrip("/")
            mounted.parent.mkdir(parents=True, exist_ok=True)
            mounted.touch()
            given = str(mounted)
        monkeypatch.setenv(name, given)
    settings: Any = _settings_class(spec)()
    assert settings.kafka_security_protocol == "SSL"
    assert settings.kafka_ssl_ca_file == tmp_path / "etc/samspil/kafka-ca/ca.crt"
    assert settings.kafka_ssl_cert_file == tmp_path / "etc/samspil/kafka-user/user.crt"
    assert settings.kafka_ssl_key_file == tmp_path / "etc/samspil/kafka-user/user.key"


def test_every_pod_mounts_the_database_ca_its_database_urls_name() -> None:
    header = (K8S / "samspil.yaml").read_text().split("\napiVersion:")[0]
    job_header = (JOBS / "audit-protect-job.yaml").read_text().split("\napiVersion:")[0]
    root_cert = "/etc/samspil/database-ca/ca.crt"
    for text in (header, job_header):
        assert f"sslmode=verify-full&sslrootcert={root_cert}" in text
    for name, pod in _pod_specs().items():
        (container,) = pod["containers"]
        assert _mounted_file(pod, container, root_cert) == ("samspil-database-ca", "ca.crt"), name
