"""Deployment files generated from the code, so they cannot drift from it: the topic
catalogue (``schemas.topics.CATALOGUE``) as Strimzi ``KafkaTopic`` resources.

On Kubernetes the services run with ``KAFKA_CREATE_TOPICS=false``; Strimzi's Topic Operator
creates and keeps the topics these resources describe (partitions, replicas, retention). The
checked-in ``deploy/k8s/kafka/topics.yaml`` is this module's output with the defaults below; a
test keeps it so. Regenerate with ``samspil deploy topics -o deploy/k8s/kafka/topics.yaml`` (or
``make deploy-files``); give ``--cluster``/``--namespace``/``--replicas``/``--api-version`` for
another cluster. The topics live in a kustomization of their own (deploy/k8s/kafka), so deleting
the application (``kubectl delete -k deploy/k8s``) cannot delete them, and the records with them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from schemas.topics import CATALOGUE, Topic

# Strimzi 0.49 and later serve kafka.strimzi.io/v1; older ones only v1beta2 (same fields here).
STRIMZI_API_VERSION = "kafka.strimzi.io/v1"
STRIMZI_API_VERSIONS = (STRIMZI_API_VERSION, "kafka.strimzi.io/v1beta2")
DEFAULT_CLUSTER = "kafka"  # the Kafka resource's name: its bootstrap is kafka-kafka-bootstrap
DEFAULT_NAMESPACE = "kafka"  # where the Topic Operator watches: the Kafka resource's namespace
DEFAULT_REPLICAS = 3

GENERATED_NOTICE = (
    "# Generated from the topic catalogue (schemas/topics.py) by `samspil deploy topics`; do not edit.\n"
    "# Strimzi's Topic Operator creates these topics; the services run with KAFKA_CREATE_TOPICS=false\n"
    "# and report any that are missing on /readyz.\n"
)


def kafka_topic(
    topic: Topic, *, cluster: str, namespace: str, replicas: int, api_version: str = STRIMZI_API_VERSION
) -> dict[str, Any]:
    """One catalogue topic as a Strimzi KafkaTopic. With three replicas a write (acks=all) needs
    two in sync, so one broker may be down without losing an acknowledged record."""
    if replicas < 1:
        raise ValueError(f"replicas must be at least 1, not {replicas}")
    if api_version not in STRIMZI_API_VERSIONS:
        raise ValueError(f"api_version must be one of {', '.join(STRIMZI_API_VERSIONS)}, not {api_version}")
    return {
        "apiVersion": api_version,
        "kind": "KafkaTopic",
        "metadata": {
            # Our topic names are valid resource names, so no spec.topicName is needed.
            "name": topic.name,
            "namespace": namespace,
            "labels": {"strimzi.io/cluster": cluster, "app.kubernetes.io/part-of": "samspil"},
        },
        "spec": {
            "partitions": topic.partitions,
            "replicas": replicas,
            "config": {
                "retention.ms": topic.retention_ms,
                "cleanup.policy": "delete",
                "min.insync.replicas": min(2, replicas),
            },
        },
    }


def kafka_topics(
    topics: Iterable[Topic] = CATALOGUE,
    *,
    cluster: str = DEFAULT_CLUSTER,
    namespace: str = DEFAULT_NAMESPACE,
    replicas: int = DEFAULT_REPLICAS,
    api_version: str = STRIMZI_API_VERSION,
) -> list[dict[str, Any]]:
    return [
        kafka_topic(t, cluster=cluster, namespace=namespace, replicas=replicas, api_version=api_version)
        for t in topics
    ]


def render_topics(
    *,
    cluster: str = DEFAULT_CLUSTER,
    namespace: str = DEFAULT_NAMESPACE,
    replicas: int = DEFAULT_REPLICAS,
    api_version: str = STRIMZI_API_VERSION,
) -> str:
    """The catalogue's KafkaTopic resources as one YAML stream, each under a comment that says
    what travels on the topic and who writes and reads it."""
    documents = []
    for topic in CATALOGUE:
        comment = (
            f"# {topic.description}\n# Key: {topic.key}. Written by {topic.producer}; read by "
            f"{', '.join(topic.consumers)}. Classification: {topic.classification.value}.\n"
        )
        resource = kafka_topic(
            topic, cluster=cluster, namespace=namespace, replicas=replicas, api_version=api_version
        )
        documents.append(comment + "\n".join(_yaml_lines(resource, 0)) + "\n")
    return GENERATED_NOTICE + "".join(f"---\n{document}" for document in documents)


_PLAIN = re.compile(r"^[A-Za-z][A-Za-z0-9._/-]*$")
_YAML_WORDS = frozenset({"true", "false", "yes", "no", "on", "off", "null", "y", "n"})


def _scalar(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise TypeError(f"not written here: {value!r}")
    if isinstance(value, int):
        return str(value)
    plain = _PLAIN.match(value) and value.lower() not in _YAML_WORDS
    return value if plain else json.dumps(value)  # a JSON string is a YAML double-quoted one


def _yaml_lines(mapping: dict[str, Any], indent: int) -> list[str]:
    """Block YAML for nested mappings of strings and integers (all a KafkaTopic here holds)."""
    lines = []
    for key, value in mapping.items():
        if isinstance(value, dict):
            lines.append(f"{' ' * indent}{_scalar(key)}:")
            lines.extend(_yaml_lines(value, indent + 2))
        else:
            lines.append(f"{' ' * indent}{_scalar(key)}: {_scalar(value)}")
    return lines
