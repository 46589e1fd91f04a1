"""Every rendered manifest validates: Argo objects against Argo's own JSON schemas (Workflows
v4.1.2 and v3.7.18, Events v1.9.11), closed so unknown fields fail too; core Kubernetes
objects against the Kubernetes definitions those schema files carry, or structurally."""

from __future__ import annotations

import re
from typing import Any

import pytest

OVERLAYS = ("gcp-pubsub", "aws-sqs", "nats")
K8S_DEFINITIONS = {  # kind -> definition in the events schema.json (it carries these)
    "Deployment": "io.k8s.api.apps.v1.Deployment",
    "HorizontalPodAutoscaler": "io.k8s.api.autoscaling.v2.HorizontalPodAutoscaler",
}
DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_renders_every_kind(argo, overlay: str) -> None:
    kinds = {d["kind"] for d in argo.render(overlay)}
    assert {
        "Namespace", "ServiceAccount", "Role", "RoleBinding", "ConfigMap", "EventBus",
        "EventSource", "Sensor", "WorkflowTemplate", "Deployment", "Service",
        "HorizontalPodAutoscaler", "PodDisruptionBudget", "NetworkPolicy",
    } <= kinds


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("version", ["workflows-v4.1.2", "workflows-v3.7.18"])
def test_workflow_objects_validate(argo, schemas, overlay: str, version: str) -> None:
    docs = [d for d in argo.render(overlay) if d["kind"] in argo.WORKFLOW_KINDS]
    assert len(docs) == 4
    for doc in docs:
        errors = schemas[version].errors(doc)
        assert not errors, f"{doc['kind']}/{doc['metadata']['name']} ({version}):\n" + "\n".join(
            errors)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_events_objects_validate(argo, schemas, overlay: str) -> None:
    docs = [d for d in argo.render(overlay) if d["kind"] in argo.EVENTS_KINDS]
    assert {d["kind"] for d in docs} == argo.EVENTS_KINDS
    for doc in docs:
        errors = schemas[argo.EVENTS_SCHEMA].errors(doc)
        assert not errors, f"{doc['kind']}/{doc['metadata']['name']}:\n" + "\n".join(errors)


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("version", ["workflows-v4.1.2", "workflows-v3.7.18"])
def test_workflow_the_sensor_submits_validates(argo, schemas, overlay: str, version: str
                                               ) -> None:
    """The events schema leaves the trigger's resource open; check it as a Workflow."""
    sensor = argo.one(argo.render(overlay), "Sensor", "ticketscan")
    (trigger,) = sensor["spec"]["triggers"]
    workflow = trigger["template"]["argoWorkflow"]["source"]["resource"]
    assert workflow["kind"] == "Workflow"
    errors = schemas[version].errors(workflow)
    assert not errors, "\n".join(errors)


def test_closed_schema_catches_a_misspelt_field(argo, schemas) -> None:
    """The strictness the tests rely on: an unknown field in a retryStrategy is an error."""
    wft = argo.one(argo.render("nats"), "WorkflowTemplate", "fetch-ticket")
    broken: dict[str, Any] = {**wft, "spec": {"templates": [
        {**wft["spec"]["templates"][0], "retryStrategy": {"retryPolicyy": "OnFailure"}}]}}
    errors = schemas["workflows-v4.1.2"].errors(broken)
    assert any("retryPolicyy" in e for e in errors), errors
    # and the schema's int-or-string fields want strings
    as_int: dict[str, Any] = {**wft, "spec": {"templates": [
        {**wft["spec"]["templates"][0], "retryStrategy": {"limit": 4}}]}}
    assert schemas["workflows-v4.1.2"].errors(as_int)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_core_objects_with_a_schema_validate(argo, schemas, overlay: str) -> None:
    events = schemas[argo.EVENTS_SCHEMA]
    checked = 0
    for doc in argo.render(overlay):
        definition = K8S_DEFINITIONS.get(doc["kind"])
        if definition is None:
            continue
        errors = events.errors(doc, definition)
        assert not errors, f"{doc['kind']}/{doc['metadata']['name']}:\n" + "\n".join(errors)
        checked += 1
    assert checked == 2


def _structural(doc: dict[str, Any]) -> list[str]:
    problems = []
    kind, meta = doc.get("kind"), doc.get("metadata", {})
    expected_api = {
        "Namespace": "v1", "ServiceAccount": "v1", "ConfigMap": "v1", "Service": "v1",
        "Role": "rbac.authorization.k8s.io/v1", "RoleBinding": "rbac.authorization.k8s.io/v1",
        "PodDisruptionBudget": "policy/v1", "NetworkPolicy": "networking.k8s.io/v1",
        "Ingress": "networking.k8s.io/v1", "Deployment": "apps/v1",
        "HorizontalPodAutoscaler": "autoscaling/v2",
    }
    if kind in expected_api and doc.get("apiVersion") != expected_api[kind]:
        problems.append(f"apiVersion {doc.get('apiVersion')} for {kind}")
    name = meta.get("name", "")
    if not DNS_LABEL.fullmatch(name) or len(name) > 63:
        problems.append(f"name {name!r} is not a DNS label")
    if kind != "Namespace" and not meta.get("namespace"):
        problems.append("no namespace")
    if kind == "Role":
        for rule in doc["rules"]:
            if not rule.get("verbs") or "*" in rule["verbs"] or "*" in rule.get("resources", []):
                problems.append(f"rule {rule} must name its resources and verbs (no '*')")
    if kind == "RoleBinding":
        if doc["roleRef"].get("kind") != "Role":
            problems.append("binds a ClusterRole: least privilege wants a namespaced Role")
        for subject in doc["subjects"]:
            if subject.get("kind") != "ServiceAccount" or not subject.get("namespace"):
                problems.append(f"subject {subject}")
    if kind == "Service":
        for port in doc["spec"]["ports"]:
            if not isinstance(port.get("port"), int):
                problems.append(f"service port {port}")
    if kind == "PodDisruptionBudget":
        spec = doc["spec"]
        if ("minAvailable" in spec) == ("maxUnavailable" in spec):
            problems.append("exactly one of minAvailable/maxUnavailable")
        if not spec.get("selector", {}).get("matchLabels"):
            problems.append("PDB selects nothing")
    if kind == "NetworkPolicy":
        spec = doc["spec"]
        if "podSelector" not in spec or not set(spec.get("policyTypes", [])) <= {
                "Ingress", "Egress"}:
            problems.append("networkpolicy spec")
    if kind == "ConfigMap" and not isinstance(doc.get("data"), dict):
        problems.append("configmap without data")
    if kind == "Ingress":
        for rule in doc["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                if path.get("pathType") not in {"Prefix", "Exact", "ImplementationSpecific"}:
                    problems.append(f"pathType {path.get('pathType')}")
                if "name" not in path["backend"].get("service", {}):
                    problems.append("ingress backend names no service")
    return problems


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_core_objects_are_structurally_sound(argo, overlay: str) -> None:
    for doc in argo.render(overlay):
        if doc["kind"] in argo.WORKFLOW_KINDS | argo.EVENTS_KINDS:
            continue
        problems = _structural(doc)
        assert not problems, f"{doc['kind']}/{doc['metadata'].get('name')}: {problems}"


def test_ingress_example_is_sound_and_points_at_the_receiver(argo) -> None:
    import yaml

    (ingress,) = list(yaml.safe_load_all((argo.argo_dir / "examples/ingress.yaml").read_text()))
    assert not _structural(ingress)
    service = argo.one(argo.render("nats"), "Service", "ticketscan-receiver")
    assert ingress["metadata"]["namespace"] == service["metadata"]["namespace"]
    backends = {p["backend"]["service"]["name"]
                for r in ingress["spec"]["rules"] for p in r["http"]["paths"]}
    assert backends == {"ticketscan-receiver"}
    ports = {p["backend"]["service"]["port"]["name"]
             for r in ingress["spec"]["rules"] for p in r["http"]["paths"]}
    assert ports <= {p["name"] for p in service["spec"]["ports"]}
    # only the webhook paths are exposed (not /metrics)
    paths = {p["path"] for r in ingress["spec"]["rules"] for p in r["http"]["paths"]}
    assert paths == {"/hooks/"}
