"""Fixtures for the argo/ and container/ tests: rendered overlays, Argo's own schemas, and a
small harness that runs a rendered Workflow's DAG through the real ``ticketscan`` CLI.

kubectl (with its built-in kustomize) is part of this project's machine image: the Debian
package ``kubectl`` from the Google Cloud SDK, installed next to the Pub/Sub emulator, at
/usr/bin/kubectl -> /usr/lib/google-cloud-sdk/bin/kubectl. It cannot be re-installed from the
registries these machines reach, so its absence is an error of the machine, not a skip.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
ARGO_DIR = REPO_ROOT / "argo"
OVERLAYS = ("gcp-pubsub", "aws-sqs", "nats")
KUBECTL_CANDIDATES = ("/usr/bin/kubectl", "/usr/lib/google-cloud-sdk/bin/kubectl")

WORKFLOW_SCHEMAS = ("workflows-v4.1.2", "workflows-v3.7.18")
EVENTS_SCHEMA = "events-v1.9.11"
WORKFLOW_KINDS = {"Workflow", "WorkflowTemplate", "ClusterWorkflowTemplate", "CronWorkflow"}
EVENTS_KINDS = {"EventBus", "EventSource", "Sensor"}


def find_kubectl() -> str:
    found = shutil.which("kubectl") or next(
        (c for c in KUBECTL_CANDIDATES if Path(c).is_file()), None
    )
    if found is None:
        pytest.fail(
            "kubectl is missing. It comes with this project's machine image (Debian package "
            "'kubectl' of the Google Cloud SDK, /usr/lib/google-cloud-sdk/bin/kubectl); "
            "install kubectl >= 1.27 (kustomize v5) on PATH to run the argo/ tests."
        )
    return found


@cache
def render(overlay: str) -> tuple[dict[str, Any], ...]:
    """``kubectl kustomize argo/overlays/<overlay>`` as a tuple of objects."""
    kubectl = find_kubectl()
    target = ARGO_DIR / "overlays" / overlay
    proc = subprocess.run(
        [kubectl, "kustomize", str(target)], capture_output=True, text=True, timeout=120,
        check=False,
    )
    if proc.returncode != 0:
        pytest.fail(f"kubectl kustomize {target} failed:\n{proc.stderr}")
    docs = tuple(d for d in yaml.safe_load_all(proc.stdout) if d)
    assert docs, f"{target} rendered nothing"
    return docs


def find(docs: tuple[dict[str, Any], ...], kind: str, name: str | None = None,
         namespace: str | None = None) -> list[dict[str, Any]]:
    return [
        d for d in docs
        if d.get("kind") == kind
        and (name is None or d["metadata"]["name"] == name)
        and (namespace is None or d["metadata"].get("namespace") == namespace)
    ]


def one(docs: tuple[dict[str, Any], ...], kind: str, name: str,
        namespace: str | None = None) -> dict[str, Any]:
    matches = find(docs, kind, name, namespace)
    assert len(matches) == 1, f"expected one {kind}/{name} in {namespace}, found {len(matches)}"
    return matches[0]


@pytest.fixture(scope="session")
def argo_fixtures(fixtures_dir: Path) -> Path:
    path = fixtures_dir / "argo"
    if not path.is_dir():
        pytest.fail(f"Argo schemas missing: {path}")
    return path


@pytest.fixture(scope="session")
def rendered() -> Callable[[str], tuple[dict[str, Any], ...]]:
    return render


# ----------------------------------------------------------------------------- schemas


def _closed(schema: Any) -> Any:
    """A copy of the schema in which every object with ``properties`` rejects unknown keys.

    Argo's schemas leave objects open, so a misspelt field (``retryPolicyy``) would pass; the
    API server would prune it silently. Closing them turns typos into test failures.
    """
    if isinstance(schema, dict):
        out = {k: _closed(v) for k, v in schema.items()}
        if "properties" in out and "additionalProperties" not in out:
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [_closed(v) for v in schema]
    return schema


@dataclass
class SchemaSet:
    """One of Argo's schema.json files; validates a document against its kind's definition."""

    name: str
    root: dict[str, Any]
    closed_root: dict[str, Any] = field(init=False)

    def __post_init__(self) -> None:
        self.closed_root = _closed(self.root)

    def definition_for(self, kind: str) -> str:
        for ref in self.root["oneOf"]:
            key = ref["$ref"].rsplit("/", 1)[-1]
            if key.endswith(f".{kind}"):
                return key
        raise KeyError(f"{self.name} has no definition for kind {kind}")

    def errors(self, document: Mapping[str, Any], definition: str | None = None,
               strict: bool = True) -> list[str]:
        from jsonschema import Draft202012Validator

        key = definition or self.definition_for(str(document["kind"]))
        root = self.closed_root if strict else self.root
        # resolve $refs into the file's own `definitions`
        schema = {"$ref": f"#/definitions/{key}", "definitions": root["definitions"]}
        validator = Draft202012Validator(schema)
        return [
            f"{'/'.join(str(p) for p in err.absolute_path) or '<root>'}: {err.message}"
            for err in sorted(validator.iter_errors(document), key=lambda e: list(e.path))
        ]


@pytest.fixture(scope="session")
def schemas(argo_fixtures: Path) -> dict[str, SchemaSet]:
    out = {}
    for name in (*WORKFLOW_SCHEMAS, EVENTS_SCHEMA):
        out[name] = SchemaSet(name, json.loads((argo_fixtures / name / "schema.json").read_text()))
    return out


# ----------------------------------------------------------------------------- harness


@dataclass
class TaskRun:
    name: str
    argv: list[str]
    returncode: int
    stdout: str
    stderr: str
    outputs: dict[str, Path]
    seconds: float = 0.0


class ArgoEventsParams:
    """Argo Events' trigger parameterisation (pkg/sensors/triggers/params.go), for the
    subset the ticketscan Sensor uses: ``dataKey`` (a gjson dotted path) with an optional
    default ``value``, written to ``dest`` (an sjson dotted path) as a string."""

    @staticmethod
    def lookup(data: Any, key: str) -> tuple[bool, Any]:
        node = data
        for part in key.split("."):
            if isinstance(node, dict) and part in node:
                node = node[part]
            elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            else:
                return False, None
        return True, node

    @staticmethod
    def go_json(value: Any) -> str:
        """JSON the way Go's encoding/json emits it: compact, with <, > and & escaped."""
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
        return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")

    @classmethod
    def resolve(cls, src: Mapping[str, Any], events: Mapping[str, Any]) -> str:
        event = events.get(src["dependencyName"])
        if event is None:
            if "value" in src:
                return str(src["value"])
            raise AssertionError(f"no event for dependency {src['dependencyName']}")
        assert set(src) <= {"dependencyName", "dataKey", "value"}, (
            f"the harness models dataKey/value sources only, got {sorted(src)}"
        )
        found, value = cls.lookup(event, src["dataKey"])
        if not found:
            if "value" in src:
                return str(src["value"])
            raise AssertionError(f"dataKey {src['dataKey']} not in the event and no default")
        if isinstance(value, (dict, list)):
            return cls.go_json(value)  # a JSON block: gjson's Raw text
        if value is None:
            return "null"
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)

    @staticmethod
    def set_path(obj: Any, dest: str, value: str) -> None:
        parts = dest.split(".")
        node = obj
        for part in parts[:-1]:
            node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
        last = parts[-1]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value

    @classmethod
    def submit(cls, sensor: Mapping[str, Any], events: Mapping[str, Any]) -> dict[str, Any]:
        """The Workflow object the Sensor's argoWorkflow trigger would submit."""
        (trigger,) = sensor["spec"]["triggers"]
        spec = trigger["template"]["argoWorkflow"]
        assert spec["operation"] == "submit"
        workflow = copy.deepcopy(spec["source"]["resource"])
        for param in spec.get("parameters", []):
            cls.set_path(workflow, param["dest"], cls.resolve(param["src"], events))
        return workflow


_EXPR = re.compile(r"\{\{\s*([^{}]+?)\s*\}\}")


class DagHarness:
    """Runs the DAG of a submitted Workflow, task by task, in dependency order.

    Not a workflow engine: it resolves exactly what ticketscan's templates use (templateRef,
    DAG ``depends`` joined with ``&&``, ``{{inputs.parameters.X}}``,
    ``{{inputs.artifacts.X}}``, ``{{tasks.T.outputs.artifacts.X}}``), gives every task its
    own folder standing in for the pod's filesystem (container paths of artifacts and volume
    mounts are mapped into it), and runs the container's command and args with the real
    ``ticketscan`` CLI. ConfigMap volumes are written from the rendered ConfigMaps; env vars
    from secretKeyRef come from ``secrets`` (a missing non-optional key fails the run).
    """

    def __init__(self, docs: tuple[dict[str, Any], ...], work: Path,
                 run_cli: Callable[..., subprocess.CompletedProcess[str]],
                 secrets: Mapping[str, Mapping[str, str]],
                 extra_env: Mapping[str, str] | None = None) -> None:
        self.docs = docs
        self.work = work
        self.run_cli = run_cli
        self.secrets = secrets
        self.extra_env = dict(extra_env or {})
        self.runs: list[TaskRun] = []

    # --- lookups
    def _template(self, namespace: str, wft: Mapping[str, Any], task: Mapping[str, Any]
                  ) -> dict[str, Any]:
        if "templateRef" in task:
            ref = task["templateRef"]
            owner = one(self.docs, "WorkflowTemplate", ref["name"], namespace)
            name = ref["template"]
        else:
            owner, name = wft, task["template"]
        matches = [t for t in owner["spec"]["templates"] if t["name"] == name]
        assert len(matches) == 1, f"template {name} not found in {owner['metadata']['name']}"
        return matches[0]

    @staticmethod
    def _levels(tasks: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
        """Tasks grouped in dependency order; tasks within a group run concurrently (as
        Argo starts every task whose dependencies are done)."""
        deps: dict[str, set[str]] = {}
        for task in tasks:
            expr = task.get("depends", "")
            names = [p.strip() for p in expr.split("&&")] if expr else []
            for n in names:
                assert re.fullmatch(r"[a-z0-9-]+", n), f"unsupported depends: {expr!r}"
            deps[task["name"]] = set(names)
        by_name = {t["name"]: t for t in tasks}
        assert set().union(*deps.values()) <= set(by_name), "depends names an unknown task"
        levels: list[list[dict[str, Any]]] = []
        done: set[str] = set()
        while len(done) < len(tasks):
            ready = sorted(n for n in by_name if n not in done and deps[n] <= done)
            assert ready, f"dependency cycle among {set(by_name) - done}"
            levels.append([by_name[n] for n in ready])
            done.update(ready)
        return levels

    @staticmethod
    def _substitute(text: str, values: Mapping[str, Any]) -> Any:
        def repl(match: re.Match[str]) -> str:
            key = match.group(1)
            assert key in values, f"unresolved {{{{{key}}}}} (known: {sorted(values)})"
            return str(values[key])

        whole = _EXPR.fullmatch(text)
        if whole and not isinstance(values.get(whole.group(1)), str):
            assert whole.group(1) in values, f"unresolved {text}"
            return values[whole.group(1)]  # an artifact path
        return _EXPR.sub(repl, text)

    # --- running
    def run(self, workflow: Mapping[str, Any]) -> dict[str, TaskRun]:
        namespace = workflow["metadata"]["namespace"]
        wft = one(self.docs, "WorkflowTemplate",
                  workflow["spec"]["workflowTemplateRef"]["name"], namespace)
        spec = wft["spec"]
        # workflow arguments override the template's, by name
        defaults = spec.get("arguments", {}).get("parameters", [])
        params = {p["name"]: p.get("value") for p in defaults}
        params.update({p["name"]: p.get("value") for p in
                       workflow["spec"].get("arguments", {}).get("parameters", [])})
        artifacts: dict[str, Path] = {}
        for art in workflow["spec"].get("arguments", {}).get("artifacts", []):
            assert "raw" in art, f"workflow argument artifact {art['name']} has no raw data"
            path = self.work / "arguments" / art["name"]
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(art["raw"]["data"], encoding="utf-8")
            artifacts[art["name"]] = path
        entry = next(t for t in spec["templates"] if t["name"] == spec["entrypoint"])
        values: dict[str, Any] = {}
        for p in entry.get("inputs", {}).get("parameters", []):
            assert p["name"] in params, f"workflow parameter {p['name']} not supplied"
            values[f"inputs.parameters.{p['name']}"] = params[p["name"]]
            values[f"workflow.parameters.{p['name']}"] = params[p["name"]]
        for a in entry.get("inputs", {}).get("artifacts", []):
            assert a["name"] in artifacts, f"workflow artifact {a['name']} not supplied"
            values[f"inputs.artifacts.{a['name']}"] = artifacts[a["name"]]
        results: dict[str, TaskRun] = {}
        for level in self._levels(entry["dag"]["tasks"]):
            with ThreadPoolExecutor(max_workers=len(level)) as pool:
                runs = list(pool.map(
                    lambda task: self._run_task(
                        task, self._template(namespace, wft, task), values), level))
            for task, run in zip(level, runs, strict=True):
                results[task["name"]] = run
                self.runs.append(run)
                for name, path in run.outputs.items():
                    values[f"tasks.{task['name']}.outputs.artifacts.{name}"] = path
            if any(run.returncode != 0 for run in runs):
                break  # a failed task fails the DAG: its dependants never start
        return results

    def _run_task(self, task: Mapping[str, Any], template: Mapping[str, Any],
                  values: Mapping[str, Any]) -> TaskRun:
        pod = self.work / "pods" / task["name"]
        args_in = task.get("arguments", {})
        local: dict[str, Any] = {}
        for p in template.get("inputs", {}).get("parameters", []):
            given = [a for a in args_in.get("parameters", []) if a["name"] == p["name"]]
            if given:
                local[f"inputs.parameters.{p['name']}"] = self._substitute(
                    str(given[0]["value"]), values)
            else:
                assert "value" in p, f"{task['name']}: parameter {p['name']} not supplied"
                local[f"inputs.parameters.{p['name']}"] = p["value"]
        mounts: dict[str, Path] = {}  # container path prefix -> host path
        for a in template.get("inputs", {}).get("artifacts", []):
            given = [x for x in args_in.get("artifacts", []) if x["name"] == a["name"]]
            assert given, f"{task['name']}: input artifact {a['name']} not supplied"
            source = self._substitute(given[0]["from"], values)
            assert isinstance(source, Path) and source.exists(), (
                f"{task['name']}: artifact {a['name']} from {given[0]['from']} does not exist"
            )
            target = pod / a["path"].lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            if source.is_dir():
                shutil.copytree(source, target)
            else:
                shutil.copyfile(source, target)
        container = template["container"]
        volumes = {v["name"]: v for v in template.get("volumes", [])}
        for mount in container.get("volumeMounts", []):
            host = pod / mount["mountPath"].lstrip("/")
            host.mkdir(parents=True, exist_ok=True)
            volume = volumes[mount["name"]]
            if "configMap" in volume:
                self._write_config_map(volume["configMap"], host, task)
            else:
                assert "emptyDir" in volume, f"unsupported volume {volume}"
            mounts[mount["mountPath"]] = host

        def host_path(text: str) -> str:
            for prefix in sorted(mounts, key=len, reverse=True):
                if text == prefix or text.startswith(prefix.rstrip("/") + "/"):
                    return str(pod / text.lstrip("/"))
            return text

        merged = {**values, **local}
        command = list(container["command"])
        assert command == ["ticketscan"], f"{task['name']}: command {command} is not ticketscan"
        argv = [host_path(str(self._substitute(a, merged))) for a in container.get("args", [])]
        for a in argv:
            assert "{{" not in a, f"{task['name']}: unresolved placeholder in {a}"
        env = {
            "HOME": str(pod / "tmp"), "TMPDIR": str(pod / "tmp"),
            "XDG_CACHE_HOME": str(pod / "tmp/.cache"),
            "KF_RULE_CACHE_DIR": str(pod / "tmp/.cache/kingfisher"),
        }
        for var in container.get("env", []):
            if "value" in var:
                env[var["name"]] = host_path(str(var["value"]))
                continue
            ref = var["valueFrom"]["secretKeyRef"]
            secret = self.secrets.get(ref["name"], {})
            if ref["key"] in secret:
                env[var["name"]] = secret[ref["key"]]
            else:
                assert ref.get("optional"), (
                    f"{task['name']}: Secret {ref['name']} key {ref['key']} is required"
                )
        env.update(self.extra_env)
        started = time.monotonic()
        proc = self.run_cli(argv, cwd=pod / "tmp", env=env)
        seconds = time.monotonic() - started
        outputs: dict[str, Path] = {}
        if proc.returncode == 0:
            for art in template.get("outputs", {}).get("artifacts", []):
                produced = pod / art["path"].lstrip("/")
                assert produced.exists() or art.get("optional"), (
                    f"{task['name']}: output artifact {art['name']} ({art['path']}) missing"
                )
                outputs[art["name"]] = produced
        return TaskRun(task["name"], argv, proc.returncode, proc.stdout, proc.stderr, outputs,
                       seconds)

    def _write_config_map(self, ref: Mapping[str, Any], host: Path, task: Mapping[str, Any]
                          ) -> None:
        namespace = one(self.docs, "WorkflowTemplate", "ticket-secrets-scan")["metadata"][
            "namespace"]
        cm = one(self.docs, "ConfigMap", ref["name"], namespace)
        for item in ref.get("items") or [{"key": k, "path": k} for k in cm["data"]]:
            assert item["key"] in cm["data"], (
                f"{task['name']}: ConfigMap {ref['name']} has no key {item['key']}"
            )
            (host / item["path"]).write_text(cm["data"][item["key"]], encoding="utf-8")


@pytest.fixture
def dag_harness(tmp_path: Path, cli: Callable[..., Any]) -> Iterator[Callable[..., DagHarness]]:
    """``dag_harness(docs, secrets=..., extra_env=...)``: a DagHarness using tests/conftest.py's
    ``run_cli`` (a fresh ``python -m ticketscan`` process per step, like a pod)."""

    def make(docs: tuple[dict[str, Any], ...], *, secrets: Mapping[str, Mapping[str, str]],
             extra_env: Mapping[str, str] | None = None) -> DagHarness:
        return DagHarness(docs, tmp_path, cli, secrets, extra_env)

    yield make


class Helpers:
    """What the test modules use from here (they cannot import a conftest module)."""

    OVERLAYS = OVERLAYS
    WORKFLOW_SCHEMAS = WORKFLOW_SCHEMAS
    EVENTS_SCHEMA = EVENTS_SCHEMA
    WORKFLOW_KINDS = WORKFLOW_KINDS
    EVENTS_KINDS = EVENTS_KINDS
    ArgoEventsParams = ArgoEventsParams
    find = staticmethod(find)
    one = staticmethod(one)
    render = staticmethod(render)
    argo_dir = ARGO_DIR
    repo_root = REPO_ROOT


@pytest.fixture(scope="session")
def argo() -> type[Helpers]:
    return Helpers
