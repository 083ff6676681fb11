"""The deployment files are valid against their published schemas, read from files on this
machine (nothing is fetched): the Kubernetes manifests, rendered as kustomize would, against
the Kubernetes API's schemas shipped by ``kubernetes-validate`` (strict: an unknown or misspelt
field fails); the KafkaTopic resources against Strimzi's CRD schema; the compose file against
the Compose Specification's schema. Both are vendored in tests/schemas (see its README). The
KafkaUser resources are checked against the few fields of Strimzi's CRD they use."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from tests.deploy_files import JOBS, KAFKA, compose, kustomize

SCHEMAS = Path(__file__).resolve().parents[1] / "schemas"
# The oldest Kubernetes still commonly run (PodDisruptionBudget policy/v1 since 1.21) and the
# newest the package knows.
KUBERNETES_VERSIONS = ("1.29.0", kubernetes_validate.utils.latest_version() + ".0")


def kubernetes_documents() -> list[dict[str, Any]]:
    return kustomize() + kustomize(JOBS)


def kafka_topic_schema() -> dict[str, Any]:
    """The CRD's schema, strict: Kubernetes drops a field a structural schema does not list (so a
    misspelt one would be lost without a word); here it fails."""
    crd = yaml.safe_load((SCHEMAS / "strimzi-kafkatopic-crd.yaml").read_text())
    version = next(v for v in crd["spec"]["versions"] if v["served"] and v["storage"])
    schema: dict[str, Any] = strict(version["schema"]["openAPIV3Schema"])
    return schema


def strict(schema: Any) -> Any:
    """A copy of an OpenAPI schema where every object that lists its properties allows no other
    (unless it says it keeps unknown fields, as a topic's free-form config does)."""
    if isinstance(schema, list):
        return [strict(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    copied = {key: strict(value) for key, value in schema.items()}
    if "properties" in schema and not schema.get("x-kubernetes-preserve-unknown-fields"):
        copied.setdefault("additionalProperties", False)
    return copied


def validate_kubernetes(document: dict[str, Any], version: str) -> None:
    kubernetes_validate.validate(document, version, strict=True)


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_the_kubernetes_manifests_are_valid_kubernetes_objects(version: str) -> None:
    documents = kubernetes_documents()
    kinds = {document["kind"] for document in documents}
    assert {"Deployment", "Service", "PodDisruptionBudget", "NetworkPolicy", "ConfigMap", "Job"} <= kinds
    for document in documents:
        validate_kubernetes(document, version)


def test_the_kubernetes_validation_refuses_a_misspelt_field() -> None:
    deployment = copy.deepcopy(next(d for d in kubernetes_documents() if d["kind"] == "Deployment"))
    deployment["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        validate_kubernetes(deployment, KUBERNETES_VERSIONS[-1])


def kafka_topics() -> list[dict[str, Any]]:
    return [d for d in kustomize(KAFKA) if d["kind"] == "KafkaTopic"]


def test_the_kafka_topics_are_valid_strimzi_kafka_topics() -> None:
    crd = yaml.safe_load((SCHEMAS / "strimzi-kafkatopic-crd.yaml").read_text())
    schema = kafka_topic_schema()
    topics = kafka_topics()
    assert topics
    for topic in topics:
        group, version = topic["apiVersion"].split("/")
        assert (group, topic["kind"]) == (crd["spec"]["group"], crd["spec"]["names"]["kind"])
        assert version in {v["name"] for v in crd["spec"]["versions"] if v["served"]}
        jsonschema.validate(topic, schema)
        # The CRD leaves metadata to Kubernetes: check it as ObjectMeta, the name as a resource name.
        meta = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": topic["metadata"]}
        validate_kubernetes(meta, KUBERNETES_VERSIONS[-1])
        assert len(topic["metadata"]["name"]) <= 253
        assert all(part.replace("-", "").isalnum() for part in topic["metadata"]["name"].split("."))


def test_the_kafka_topic_schema_refuses_a_topic_without_partitions_to_speak_of() -> None:
    topic = copy.deepcopy(kafka_topics()[0])
    topic["spec"]["partitions"] = 0
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(topic, kafka_topic_schema())


# Strimzi's KafkaUser (kafka.strimzi.io/v1, as its CRD of release 1.2.0 defines it): no copy of
# the CRD is vendored, so the fields used here are checked against these.
KAFKA_USER_SPEC = {"userName", "authentication", "authorization", "quotas", "template"}
KAFKA_USER_AUTHENTICATION = {"tls", "tls-external", "scram-sha-512"}


def test_the_kafka_users_are_strimzi_kafka_users_with_certificates() -> None:
    users = [d for d in kustomize(KAFKA) if d["kind"] == "KafkaUser"]
    assert users
    for user in users:
        assert user["apiVersion"] == "kafka.strimzi.io/v1"
        assert set(user) == {"apiVersion", "kind", "metadata", "spec"}
        assert set(user["spec"]) <= KAFKA_USER_SPEC
        assert user["spec"]["authentication"]["type"] in KAFKA_USER_AUTHENTICATION
        assert user["spec"]["authentication"] == {"type": "tls"}
        meta = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": user["metadata"]}
        validate_kubernetes(meta, KUBERNETES_VERSIONS[-1])


@pytest.mark.parametrize("where", ["top", "spec"])
def test_the_kafka_topic_schema_refuses_a_misspelt_field(where: str) -> None:
    topic = copy.deepcopy(kafka_topics()[0])
    (topic if where == "top" else topic["spec"])["partiton"] = 3
    with pytest.raises(jsonschema.ValidationError, match="partiton"):
        jsonschema.validate(topic, kafka_topic_schema())


def compose_schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((SCHEMAS / "compose-spec.json").read_text())
    return schema


def test_the_compose_file_is_valid_against_the_compose_specification() -> None:
    jsonschema.Draft7Validator(compose_schema()).validate(compose())


def test_the_compose_validation_refuses_an_unknown_healthcheck_field() -> None:
    document = compose()
    document["services"]["employment"]["healthcheck"]["every"] = "10s"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft7Validator(compose_schema()).validate(document)
