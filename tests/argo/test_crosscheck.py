"""Everything the manifests name exists: images, Secrets and their keys, ConfigMaps and their
keys, ServiceAccounts, WorkflowTemplates, config sections and keys (checked against the
installed plugins' own Settings models, read at test time), the scanner list, and the security
settings every pod needs."""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from ticketscan.components import Message
from ticketscan.config import PipelineSettings, load_config
from ticketscan.errors import EXIT_RETRYABLE, PluginError
from ticketscan.plugins import make_plugin_manager

OVERLAYS = ("gcp-pubsub", "aws-sqs", "nats")
EVENTSOURCE_OF = {"gcp-pubsub": "pubSub", "aws-sqs": "sqs", "nats": "nats"}
WORKFLOW_NS, EVENT_NS = "ticketscan-workflows", "ticketscan"


@pytest.fixture(scope="module")
def plugins() -> Any:
    return make_plugin_manager()


def containers(doc: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(where, container, volumes-by-name) for every container the object will run."""
    if doc["kind"] == "Deployment":
        spec = doc["spec"]["template"]["spec"]
        volumes = {v["name"]: v for v in spec.get("volumes", [])}
        for c in spec["containers"]:
            yield f"Deployment/{doc['metadata']['name']}/{c['name']}", c, volumes
    if doc["kind"] == "WorkflowTemplate":
        for t in doc["spec"]["templates"]:
            if "container" in t:
                volumes = {v["name"]: v for v in t.get("volumes", [])}
                yield f"WorkflowTemplate/{doc['metadata']['name']}/{t['name']}", t["container"], \
                    volumes


def secret_refs(doc: dict[str, Any]) -> Iterator[tuple[str, str, str]]:
    """(namespace, secret name, key) of every Secret the object reads."""
    ns = doc["metadata"].get("namespace", "")
    for _, c, _ in containers(doc):
        for var in c.get("env", []):
            ref = var.get("valueFrom", {}).get("secretKeyRef")
            if ref:
                yield ns, ref["name"], ref["key"]

    def walk(node: Any) -> Iterator[tuple[str, str, str]]:
        if isinstance(node, dict):
            if set(node) >= {"name", "key"} and len(node) <= 3 and all(
                    isinstance(v, (str, bool)) for v in node.values()):
                yield ns, node["name"], node["key"]
            for value in node.values():
                yield from walk(value)
        elif isinstance(node, list):
            for value in node:
                yield from walk(value)

    if doc["kind"] == "EventSource":
        yield from walk({k: v for k, v in doc["spec"].items() if k != "template"})
    if doc["kind"] == "ConfigMap" and doc["metadata"]["name"] == "artifact-repositories":
        for text in doc["data"].values():
            yield from walk(yaml.safe_load(text))


def toml_of(docs: tuple[dict[str, Any], ...], namespace: str) -> dict[str, Any]:
    cm = next(d for d in docs if d["kind"] == "ConfigMap"
              and d["metadata"]["name"] == "ticketscan-config"
              and d["metadata"]["namespace"] == namespace)
    return tomllib.loads(cm["data"]["ticketscan.toml"])


def env_refs(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        if set(value) == {"env"}:
            yield value["env"]
        for v in value.values():
            yield from env_refs(v)
    elif isinstance(value, list):
        for v in value:
            yield from env_refs(v)


# ------------------------------------------------------------------------------ images


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_image_is_the_one_kustomize_pins(argo, overlay: str) -> None:
    kustomization = yaml.safe_load((argo.argo_dir / "base/kustomization.yaml").read_text())
    (pin,) = kustomization["images"]
    expected = f"{pin['newName']}:{pin['newTag']}"
    images = {c["image"] for d in argo.render(overlay) for _, c, _ in containers(d)}
    assert images == {expected}, "every step and the receiver run the same, pinned image"


def test_image_tag_matches_core_and_the_dockerfile(argo) -> None:
    import ticketscan

    kustomization = yaml.safe_load((argo.argo_dir / "base/kustomization.yaml").read_text())
    tag = kustomization["images"][0]["newTag"]
    assert tag == ticketscan.__version__
    dockerfile = (argo.repo_root / "container/Dockerfile").read_text()
    assert f"ARG VERSION={tag}\n" in dockerfile


# ----------------------------------------------------------------------------- secrets


@pytest.fixture(scope="module")
def documented_secrets(argo) -> dict[tuple[str, str], set[str]]:
    path = argo.argo_dir / "examples/secrets.example.yaml"
    out: dict[tuple[str, str], set[str]] = {}
    for doc in yaml.safe_load_all(path.read_text()):
        assert doc["kind"] == "Secret"
        assert all(v == "" for v in doc.get("stringData", {}).values()), (
            "the example must not carry values")
        out[(doc["metadata"]["namespace"], doc["metadata"]["name"])] = set(doc["stringData"])
    return out


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_secret_key_used_is_documented(argo, documented_secrets, overlay: str) -> None:
    used = {ref for d in argo.render(overlay) for ref in secret_refs(d)}
    assert used, "the manifests read no Secret at all?"
    for namespace, name, key in used:
        assert (namespace, name) in documented_secrets, (
            f"Secret {namespace}/{name} is used but not in argo/examples/secrets.example.yaml")
        assert key in documented_secrets[(namespace, name)], f"{namespace}/{name} lacks {key}"


def test_every_documented_secret_is_used_and_in_the_guide(argo, documented_secrets) -> None:
    used = {ref for o in OVERLAYS for d in argo.render(o) for ref in secret_refs(d)}
    guide = (argo.argo_dir / "README.md").read_text()
    for (namespace, name), keys in documented_secrets.items():
        for key in keys:
            assert (namespace, name, key) in used, f"{namespace}/{name}:{key} is never read"
            assert key in guide, f"argo/README.md does not explain {key}"
        assert f"create secret generic {name}" in guide, f"no command for {name} in the guide"


# -------------------------------------------------------------------------- configmaps


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_configmap_and_key_referenced_exists(argo, overlay: str) -> None:
    docs = argo.render(overlay)
    for doc in docs:
        ns = doc["metadata"].get("namespace")
        for where, _, volumes in containers(doc):
            for volume in volumes.values():
                ref = volume.get("configMap")
                if not ref:
                    continue
                cm = argo.one(docs, "ConfigMap", ref["name"], ns)
                for item in ref.get("items", []):
                    assert item["key"] in cm["data"], f"{where}: {ref['name']} has no {item['key']}"
        if doc["kind"] == "WorkflowTemplate" and "artifactRepositoryRef" in doc["spec"]:
            ref = doc["spec"]["artifactRepositoryRef"]
            cm = argo.one(docs, "ConfigMap", ref["configMap"], ns)
            repo = yaml.safe_load(cm["data"][ref["key"]])
            assert {"s3", "gcs"} & set(repo), repo


# ----------------------------------------------------------------------- configuration


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_config_sections_name_installed_components_and_their_keys(
        argo, plugins, overlay: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Each [sources|scanners|sinks|transports.NAME] validates against NAME's own Settings
    (values included), with every { env = ... } reference given a dummy value."""
    docs = argo.render(overlay)
    data = toml_of(docs, WORKFLOW_NS)
    assert data == toml_of(docs, EVENT_NS), "receiver and steps read the same file"
    PipelineSettings.model_validate(data["pipeline"])
    for name in env_refs(data):
        monkeypatch.setenv(name, "dummy-value-for-validation")
    config_file = tmp_path / "ticketscan.toml"
    cm = argo.one(docs, "ConfigMap", "ticketscan-config", WORKFLOW_NS)
    config_file.write_text(cm["data"]["ticketscan.toml"])
    config = load_config(config_file, env={})
    kinds = {"sources": "source", "scanners": "scanner", "sinks": "sink",
             "transports": "transport"}
    checked = 0
    for section, kind in kinds.items():
        for name in data.get(section, {}):
            component = getattr(plugins, kind)(name)  # PluginError names a missing plugin
            config.settings_for(component)
            checked += 1
    assert checked >= 4


def test_receiver_section_validates(argo, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
                                    ) -> None:
    from ticketscan.receiver.settings import receiver_settings

    docs = argo.render("nats")
    data = toml_of(docs, EVENT_NS)
    for name in env_refs(data):
        monkeypatch.setenv(name, "dummy-value-for-validation")
    config_file = tmp_path / "ticketscan.toml"
    config_file.write_text(argo.one(docs, "ConfigMap", "ticketscan-config", EVENT_NS)["data"][
        "ticketscan.toml"])
    settings = receiver_settings(load_config(config_file, env={}))
    assert settings.host == "0.0.0.0" and settings.port == 8080
    assert set(settings.sources) == {"jira", "zendesk"}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_receiver_env_overrides_name_the_overlay_transport_and_its_keys(
        argo, plugins, overlay: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    docs = argo.render(overlay)
    deployment = argo.one(docs, "Deployment", "ticketscan-receiver", EVENT_NS)
    env = {v["name"]: v.get("value") for v in
           deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["TICKETSCAN__RECEIVER__TRANSPORT"] == overlay
    eventsource = argo.one(docs, "EventSource", "ticketscan-queue", EVENT_NS)
    assert EVENTSOURCE_OF[overlay] in eventsource["spec"], "EventSource reads another transport"
    keys = sorted(
        name.split("__")[3].lower() for name in env
        if name.startswith("TICKETSCAN__TRANSPORTS__")
    )
    prefixes = {name.split("__")[2].lower().replace("_", "-") for name in env
                if name.startswith("TICKETSCAN__TRANSPORTS__")}
    assert prefixes == {overlay}
    try:
        transport = plugins.transport(overlay)
    except PluginError as exc:
        pytest.skip(f"transport plugin {overlay} is not importable yet (built in parallel): {exc}")
    fields = set(transport.Settings.model_fields) | {
        f.alias for f in transport.Settings.model_fields.values() if f.alias}
    assert set(keys) <= fields, f"{overlay} Settings has no {set(keys) - fields}"
    # and the values validate: the receiver's config as it will load in the pod
    config_file = tmp_path / "ticketscan.toml"
    config_file.write_text(argo.one(docs, "ConfigMap", "ticketscan-config", EVENT_NS)["data"][
        "ticketscan.toml"])
    literal = {k: v for k, v in env.items() if v is not None}
    for name in ("NATS_TOKEN",):
        monkeypatch.setenv(name, "dummy-value-for-validation")
    config = load_config(config_file, env=literal)
    assert config.data["receiver"]["transport"] == overlay
    config.settings_for(transport)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_env_references_are_supplied_where_they_are_used(argo, overlay: str) -> None:
    """{ env = X } in [sources] reaches the fetch step, [sinks] the publish step, [receiver]
    the receiver; and no step gets a Secret the config never reads."""
    docs = argo.render(overlay)
    data = toml_of(docs, WORKFLOW_NS)

    def env_of(kind: str, name: str) -> set[str]:
        if kind == "Deployment":
            doc = argo.one(docs, "Deployment", name, EVENT_NS)
            (c,) = doc["spec"]["template"]["spec"]["containers"]
        else:
            c = argo.one(docs, "WorkflowTemplate", name, WORKFLOW_NS)["spec"]["templates"][0][
                "container"]
        return {v["name"] for v in c.get("env", []) if "valueFrom" in v}

    pairs = [
        (set(env_refs(data.get("sources", {}))), env_of("WorkflowTemplate", "fetch-ticket")),
        (set(env_refs(data.get("sinks", {}))),
         env_of("WorkflowTemplate", "publish-credential-findings")),
        (set(env_refs(data.get("receiver", {}))), env_of("Deployment", "ticketscan-receiver")),
    ]
    for wanted, given in pairs:
        assert wanted <= given, f"not supplied: {wanted - given}"
        extra = given - wanted - {"NATS_TOKEN"}  # the nats overlay's transport token
        assert not extra, f"Secrets given but never read by the config: {extra}"


# ------------------------------------------------------------------------------ scanners


def test_scan_tasks_are_exactly_the_configured_scanners(argo, plugins) -> None:
    docs = argo.render("nats")
    wft = argo.one(docs, "WorkflowTemplate", "ticket-secrets-scan", WORKFLOW_NS)
    dag = next(t for t in wft["spec"]["templates"] if t["name"] == wft["spec"]["entrypoint"])
    scans = {}
    for task in dag["dag"]["tasks"]:
        if task.get("templateRef", {}).get("name") == "helper-secrets-scans":
            (param,) = task["arguments"]["parameters"]
            scans[task["name"]] = param["value"]
    assert all(name == f"scan-{s}" for name, s in scans.items())
    configured = toml_of(docs, WORKFLOW_NS)["pipeline"]["scanners"]
    assert sorted(scans.values()) == sorted(configured)
    merge = next(t for t in dag["dag"]["tasks"] if t["name"] == "merge")
    assert set(merge["depends"].split(" && ")) == set(scans)
    assert {a["name"] for a in merge["arguments"]["artifacts"]} == {
        f"findings-{s}" for s in configured}
    in_repo = {p.name for p in (argo.repo_root / "plugins").iterdir() if p.is_dir()}
    for scanner in configured:
        plugins.scanner(scanner)
        assert scanner in in_repo, f"{scanner} is not an in-repo plugin (not in the image)"


# ---------------------------------------------------------------------- pod security


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_container_is_locked_down(argo, overlay: str) -> None:
    seen = 0
    for doc in argo.render(overlay):
        for where, c, volumes in containers(doc):
            sc = c["securityContext"]
            assert sc["runAsNonRoot"] is True, where
            assert sc["readOnlyRootFilesystem"] is True, where
            assert sc["allowPrivilegeEscalation"] is False, where
            assert sc["capabilities"]["drop"] == ["ALL"], where
            assert sc["seccompProfile"]["type"] == "RuntimeDefault", where
            assert c["resources"]["requests"]["cpu"] and c["resources"]["requests"]["memory"]
            assert c["resources"]["limits"]["memory"], where
            tmp = [m for m in c["volumeMounts"] if m["mountPath"] == "/tmp"]
            assert tmp and "emptyDir" in volumes[tmp[0]["name"]], f"{where}: /tmp not writable"
            seen += 1
    assert seen == 5


def test_step_templates_retry_only_retryable_failures(argo) -> None:
    docs = argo.render("nats")
    steps = [(d["metadata"]["name"], t) for d in docs if d["kind"] == "WorkflowTemplate"
             for t in d["spec"]["templates"] if "container" in t]
    assert len(steps) == 4
    for owner, template in steps:
        retry = template["retryStrategy"]
        assert retry["retryPolicy"] == "OnFailure", owner
        assert retry["expression"] == f"asInt(lastRetry.exitCode) == {EXIT_RETRYABLE}", owner
        assert int(retry["limit"]) >= 1 and retry["backoff"]["duration"], owner
        assert int(template["activeDeadlineSeconds"]) > 0, owner
        assert template["container"]["command"] == ["ticketscan"], owner


def test_workflow_has_deadline_gc_ttl_and_existing_service_accounts(argo) -> None:
    docs = argo.render("nats")
    spec = argo.one(docs, "WorkflowTemplate", "ticket-secrets-scan", WORKFLOW_NS)["spec"]
    assert spec["activeDeadlineSeconds"] > 0
    assert spec["podGC"]["strategy"] in {"OnPodSuccess", "OnPodCompletion"}
    assert spec["ttlStrategy"]["secondsAfterSuccess"] > 0
    assert spec["artifactGC"]["strategy"] == "OnWorkflowDeletion"
    assert spec["securityContext"]["runAsNonRoot"] is True
    for account in (spec["serviceAccountName"], spec["artifactGC"]["serviceAccountName"]):
        argo.one(docs, "ServiceAccount", account, WORKFLOW_NS)
    for doc in docs:
        for task in (t for tmpl in doc.get("spec", {}).get("templates", []) if "dag" in tmpl
                     for t in tmpl["dag"]["tasks"]):
            if "templateRef" in task:
                ref = argo.one(docs, "WorkflowTemplate", task["templateRef"]["name"], WORKFLOW_NS)
                assert any(t["name"] == task["templateRef"]["template"]
                           for t in ref["spec"]["templates"])


# --------------------------------------------------------------------------------- RBAC


def _bound_rules(docs: tuple[dict[str, Any], ...], account: str, account_ns: str
                 ) -> list[tuple[str, dict[str, Any]]]:
    rules = []
    for binding in docs:
        if binding["kind"] not in {"RoleBinding", "ClusterRoleBinding"}:
            continue
        if any(s["name"] == account and s.get("namespace") == account_ns
               for s in binding["subjects"]):
            assert binding["kind"] == "RoleBinding", "no cluster-wide grants"
            ns = binding["metadata"]["namespace"]
            role = next(
                d for d in docs if d["kind"] == "Role"
                and d["metadata"]["name"] == binding["roleRef"]["name"]
                and d["metadata"]["namespace"] == ns)
            rules += [(ns, r) for r in role["rules"]]
    return rules


def _flatten(rules: list[tuple[str, dict[str, Any]]]) -> set[tuple[str, str, str]]:
    return {(ns, res, verb) for ns, r in rules for res in r["resources"] for verb in r["verbs"]}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_sensor_may_create_workflows_in_the_workflow_namespace_only(argo, overlay: str) -> None:
    docs = argo.render(overlay)
    sensor = argo.one(docs, "Sensor", "ticketscan", EVENT_NS)
    account = sensor["spec"]["template"]["serviceAccountName"]
    argo.one(docs, "ServiceAccount", account, EVENT_NS)
    grants = _flatten(_bound_rules(docs, account, EVENT_NS))
    assert grants == {(WORKFLOW_NS, "workflows", "create"), (WORKFLOW_NS, "workflows", "get"),
                      (WORKFLOW_NS, "workflowtemplates", "get"),
                      (WORKFLOW_NS, "workflowtemplates", "list")}
    workflow = sensor["spec"]["triggers"][0]["template"]["argoWorkflow"]["source"]["resource"]
    assert workflow["metadata"]["namespace"] == WORKFLOW_NS


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_workflow_pods_get_only_what_the_executor_needs(argo, overlay: str) -> None:
    docs = argo.render(overlay)
    assert _flatten(_bound_rules(docs, "ticketscan-workflow", WORKFLOW_NS)) == {
        (WORKFLOW_NS, "workflowtaskresults", "create"),
        (WORKFLOW_NS, "workflowtaskresults", "patch")}
    assert _flatten(_bound_rules(docs, "ticketscan-artifact-gc", WORKFLOW_NS)) == {
        (WORKFLOW_NS, "workflowartifactgctasks", "list"),
        (WORKFLOW_NS, "workflowartifactgctasks", "watch"),
        (WORKFLOW_NS, "workflowartifactgctasks/status", "patch")}
    for account in ("ticketscan-receiver", "ticketscan-eventsource"):
        assert not _bound_rules(docs, account, EVENT_NS)
        sa = argo.one(docs, "ServiceAccount", account, EVENT_NS)
        assert sa["automountServiceAccountToken"] is False


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_events_wiring(argo, overlay: str) -> None:
    docs = argo.render(overlay)
    bus = argo.one(docs, "EventBus", "ticketscan", EVENT_NS)
    assert "jetstream" in bus["spec"]
    source = argo.one(docs, "EventSource", "ticketscan-queue", EVENT_NS)
    sensor = argo.one(docs, "Sensor", "ticketscan", EVENT_NS)
    assert source["spec"]["eventBusName"] == sensor["spec"]["eventBusName"] == "ticketscan"
    argo.one(docs, "ServiceAccount", source["spec"]["template"]["serviceAccountName"], EVENT_NS)
    (dep,) = sensor["spec"]["dependencies"]
    assert dep["eventSourceName"] == source["metadata"]["name"]
    events = source["spec"][EVENTSOURCE_OF[overlay]]
    assert dep["eventName"] in events
    assert events[dep["eventName"]]["jsonBody"] is True
    if overlay == "gcp-pubsub":
        assert events[dep["eventName"]]["subscriptionID"]
    trigger = sensor["spec"]["triggers"][0]
    assert trigger["retryStrategy"]["steps"] >= 1 and trigger["rateLimit"]["requestsPerUnit"] > 0
    params = trigger["template"]["argoWorkflow"]["parameters"]
    assert params[0] == {"src": {"dependencyName": dep["name"], "dataKey": "body"},
                         "dest": "spec.arguments.artifacts.0.raw.data"}
    # the attribute the Sensor reads is the one core's Message carries the delivery id in
    attribute = "delivery_id"
    assert Message(body=b"{}", attributes={attribute: "x"}).delivery_id == "x"
    assert attribute in params[1]["src"]["dataKey"].split(".")
