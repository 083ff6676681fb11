"""The deployment files as the tests read them: the compose file, and the Kubernetes manifests
rendered as ``kubectl apply -k`` would (a kustomization's resources in order): the application's
(deploy/k8s) and the Strimzi resources applied apart from it (deploy/k8s/kafka)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
KAFKA = K8S / "kafka"
JOBS = K8S / "jobs"
# What this renderer does; a kustomization that asks for more (patches, generators) fails the
# tests until the renderer learns it, rather than being rendered wrong.
KUSTOMIZATION_KEYS = {"apiVersion", "kind", "resources", "images"}
IMAGE_KEYS = {"name", "newName", "newTag", "digest"}


def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((DEPLOY / "compose/compose.yaml").read_text())
    return document


def compose_services() -> dict[str, Any]:
    services: dict[str, Any] = compose()["services"]
    return services


def load_all(path: Path) -> list[dict[str, Any]]:
    return [document for document in yaml.safe_load_all(path.read_text()) if document]


def kustomize(directory: Path = K8S) -> list[dict[str, Any]]:
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    unknown = set(kustomization) - KUSTOMIZATION_KEYS
    assert not unknown, f"kustomization uses {unknown}: teach tests/deploy_files.py to render it"
    documents = []
    for resource in kustomization["resources"]:
        documents += load_all(directory / resource)
    for image in kustomization.get("images", []):
        assert set(image) <= IMAGE_KEYS, f"images entry {image}: teach tests/deploy_files.py to render it"
        for document in documents:
            for container in _containers(document):
                container["image"] = _set_image(container["image"], image)
    return documents


def _containers(document: dict[str, Any]) -> list[dict[str, Any]]:
    pod = document.get("spec", {}).get("template", {}).get("spec", {})
    return [*pod.get("initContainers", []), *pod.get("containers", [])]


def _set_image(reference: str, image: dict[str, str]) -> str:
    """A container's image after a kustomize images entry: its name matched without tag or digest;
    a digest replaces the tag."""
    name, _, digest = reference.partition("@")
    name, _, tag = name.rpartition(":") if ":" in name.rsplit("/", 1)[-1] else (name, "", "")
    if name != image["name"]:
        return reference
    name = image.get("newName", name)
    if "digest" in image:
        return f"{name}@{image['digest']}"
    if "newTag" in image:
        return f"{name}:{image['newTag']}"
    return name + (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")


def k8s_of_kind(kind: str, directory: Path = K8S) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for doc in kustomize(directory) if doc["kind"] == kind}


def k8s_deployments() -> dict[str, dict[str, Any]]:
    return k8s_of_kind("Deployment")
