"""The manifests and the CLI agree: an event goes through the rendered Sensor and WorkflowTemplates
and comes out as findings.

For each case the test renders an overlay, builds the event the overlay's EventSource would
emit for a message on its transport (Pub/Sub, SQS, NATS shapes from argo-events'
event-data.go, body as raw JSON because of ``jsonBody: true``), applies the Sensor's trigger
parameters the way Argo Events does (params.go: ``dataKey`` -> ``dest``), and runs the
submitted Workflow's DAG task by task (tests/argo/conftest.py, DagHarness): each task's
container command and args, with Argo's artifact and mount paths mapped into a folder per
task, through the real ``ticketscan`` CLI in a fresh process. It is a harness, not a workflow
engine.

Jira and Zendesk are FAKES (tests/fakes/jira.py, tests/fakes/zendesk.py: no Jira or Zendesk
can run here), built from the real API shapes and reached through the real clients. The
ConfigMap's example URLs point at the fakes through TICKETSCAN__ env overrides, the way a
deployer would adjust the config; the API tokens arrive as env vars from the Secret, as in
the cluster.

trufflehog: no genuine binary can be installed on these machines (../shared/SERVICES.md; the
container image downloads the official release). Its scan task runs the real plugin against
a STAND-IN executable named trufflehog that reports nothing, so the DAG stays the shipped
one; the other three engines (gitleaks, Kingfisher, fastscan) are real.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import stat
import sys
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ticketscan.models import sha256_text
from ticketscan.testing import assert_no_secrets

from tests.fakes.jira import FakeJira
from tests.fakes.zendesk import FakeZendesk

pytestmark = pytest.mark.integration

AWS_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
B62 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
STANDIN_SCANNERS = {"trufflehog"}


def standins() -> set[str]:
    """The scanners that run as a STAND-IN here: those with no real binary on PATH."""
    return {name for name in STANDIN_SCANNERS if shutil.which(name) is None}
DELIVERY_ID = "4f1c2a7e-9d3b-4c55-8e61-0a9b7c6d5e43"


def fake_aws_key(rng: random.Random) -> str:
    return "AKIA" + "".join(rng.choice(AWS_ALPHABET) for _ in range(16))


def fake_github_pat(rng: random.Random) -> str:
    """A classic GitHub token with a valid CRC32 tail (engines check it)."""
    from ticketscan.checks import _base62

    body = "".join(rng.choice(B62) for _ in range(30))
    return f"ghp_{body}{_base62(zlib.crc32(body.encode()))}"


def transport_event(overlay: str, body: dict[str, Any], delivery_id: str) -> dict[str, Any]:
    """The event data each EventSource dispatches for one message (argo-events event-data.go)."""
    if overlay == "gcp-pubsub":
        return {"id": "1234567890", "body": body, "attributes": {"delivery_id": delivery_id},
                "publishTime": "2026-01-01 10:00:00 +0000 UTC"}
    if overlay == "aws-sqs":
        return {"messageId": "b5d7e0b1-0000-4000-8000-000000000001", "body": body,
                "messageAttributes": {"delivery_id": {"DataType": "String",
                                                      "StringValue": delivery_id}}}
    if overlay == "nats":
        return {"subject": "ticketscan.events", "body": body,
                "header": {"delivery_id": [delivery_id]}}
    raise AssertionError(overlay)


@pytest.fixture(scope="session")
def kingfisher_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Kingfisher compiles its rules on first use (~6 s); share that cache across cases,
    as a warm node would."""
    return tmp_path_factory.mktemp("kingfisher-rules")


@pytest.fixture
def standin_bin(tmp_path: Path) -> Path:
    """A folder with the trufflehog STAND-IN (see module docstring) and nothing else."""
    folder = tmp_path / "standin-bin"
    folder.mkdir()
    script = folder / "trufflehog"
    script.write_text(
        "#!/bin/sh\n"
        "# STAND-IN for trufflehog v3 (no genuine binary on this machine): reports nothing\n"
        'if [ "$1" = "--version" ]; then echo "trufflehog 3.95.7"; fi\n'
        "exit 0\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return folder


def harness_env(standin_bin: Path, kingfisher_cache: Path, **extra: str) -> dict[str, str]:
    venv_bin = str(Path(sys.executable).parent)
    path = os.pathsep.join([venv_bin, os.environ.get("PATH", ""), str(standin_bin)])
    # the stand-in comes LAST on PATH: a real trufflehog, if one is installed, wins
    # the kingfisher plugin keeps its rule cache under XDG_CACHE_HOME (/tmp/.cache in the image)
    return {"PATH": path, "XDG_CACHE_HOME": str(kingfisher_cache), **extra}


@pytest.fixture
def fake_jira(fixtures_dir: Path) -> Iterator[FakeJira]:
    with FakeJira(fixtures_dir, flavor="cloud") as fake:
        yield fake


@pytest.fixture
def fake_zendesk(fixtures_dir: Path) -> Iterator[FakeZendesk]:
    with FakeZendesk(email="ticketscan-bot@example.com", token="fake-zendesk-token-1234",
                     shapes_dir=fixtures_dir / "zendesk") as fake:
        yield fake


def run_case(argo, dag_harness, overlay: str, body: dict[str, Any], *,
             secrets: dict[str, dict[str, str]], env: dict[str, str]) -> dict[str, Any]:
    docs = argo.render(overlay)
    sensor = argo.one(docs, "Sensor", "ticketscan")
    workflow = argo.ArgoEventsParams.submit(
        sensor, {"ticket-event": transport_event(overlay, body, DELIVERY_ID)})
    # what the Sensor hands over: the body, as JSON text, and the delivery id
    raw = workflow["spec"]["arguments"]["artifacts"][0]["raw"]["data"]
    assert isinstance(raw, str)
    assert json.loads(raw) == body
    assert workflow["spec"]["arguments"]["parameters"][0]["value"] == DELIVERY_ID
    harness = dag_harness(docs, secrets=secrets, extra_env=env)
    results = harness.run(workflow)
    failed = {n: r for n, r in results.items() if r.returncode != 0}
    assert not failed, "\n".join(
        f"task {n} exited {r.returncode}: {' '.join(r.argv)}\n{r.stderr[-3000:]}"
        for n, r in failed.items())
    return {"results": results, "harness": harness, "workflow": workflow, "docs": docs}


def check_outcome(argo, outcome: dict[str, Any], planted: dict[str, str],
                  also_secret: list[str]) -> list[dict[str, Any]]:
    results = outcome["results"]
    wft = argo.one(outcome["docs"], "WorkflowTemplate", "ticket-secrets-scan")
    tasks = [t["name"] for t in wft["spec"]["templates"][0]["dag"]["tasks"]]
    # every task ran, fetch first and publish last
    order = list(results)
    assert order[0] == "fetch" and order[-1] == "publish"
    assert set(results) == set(tasks)
    merged_path = results["merge"].outputs["findings"]
    findings = [json.loads(line) for line in merged_path.read_text().splitlines() if line]
    by_sha = {f["secret_sha256"]: f for f in findings}
    for label, secret in planted.items():
        assert sha256_text(secret) in by_sha, f"the workflow missed the secret in the {label}"
    # each real engine took part; the merged findings name them
    engines = {s for f in findings for s in f["scanners"]}
    scan_tasks = [t for t in tasks if t.startswith("scan-")]
    for task in scan_tasks:
        scanner = task.removeprefix("scan-")
        per_scanner = results[task].outputs["findings"].read_text().splitlines()
        if scanner in standins():
            continue  # the stand-in reports nothing by design
        assert per_scanner, f"{scanner} found nothing"
        assert scanner in engines, f"{scanner}'s findings did not survive the merge"
    # SARIF from merge, and the publish report with every configured sink delivered
    sarif = json.loads(results["merge"].outputs["sarif"].read_text())
    assert sarif["version"] == "2.1.0" and sarif["runs"][0]["results"]
    report_dir = results["publish"].outputs["report"]
    report = json.loads((report_dir / "publish-report.json").read_text())
    assert report["findings"] == len(findings)
    assert set(report["sinks"]) == {"stdout", "jsonl", "sarif"}
    for sink in report["sinks"].values():
        assert sink.get("error") is None and not sink.get("failed"), report
    assert report["sinks"]["jsonl"]["delivered"], report
    assert (report_dir / "findings.jsonl").is_file() and (report_dir / "findings.sarif").is_file()
    # nothing that leaves a step holds a secret in clear (the documents artifact is the ticket
    # text itself, the scanners' input, and is garbage-collected with the Workflow)
    blobs: list[str | bytes] = []
    for run in results.values():
        blobs += [run.stdout, run.stderr]
        for name, path in run.outputs.items():
            if name == "documents":
                continue
            files = [p for p in path.rglob("*") if p.is_file()] if path.is_dir() else [path]
            blobs += [p.read_bytes() for p in files]
    assert_no_secrets(blobs, [*planted.values(), *also_secret])
    return findings


@pytest.mark.slow
def test_jira_event_through_the_gcp_pubsub_overlay(
        argo, dag_harness, fake_jira: FakeJira, standin_bin: Path, kingfisher_cache: Path
) -> None:
    rng = random.Random(7101)
    planted = {"description": fake_aws_key(rng), "comment": fake_aws_key(rng),
               "attachment": fake_aws_key(rng), "github-token": fake_github_pat(rng)}
    fake_jira.add_issue("SEC-42", summary="VPN broken",
                        description=f"Our deploy key is {planted['description']} help\n"
                                    f"and the CI token {planted['github-token']}")
    fake_jira.add_comment("SEC-42", f"try again with aws_access_key_id={planted['comment']}")
    fake_jira.add_attachment("SEC-42", "app.env",
                             f"AWS_ACCESS_KEY_ID={planted['attachment']}\n".encode())
    body = {"webhookEvent": "jira:issue_created", "timestamp": 1767261600000,
            "issue": {"id": fake_jira.issues["SEC-42"].id, "key": "SEC-42",
                      "fields": {"summary": "VPN broken"}}}
    outcome = run_case(
        argo, dag_harness, "gcp-pubsub", body,
        secrets={"ticketscan-sources": {"JIRA_API_TOKEN": fake_jira.token}},
        env=harness_env(standin_bin, kingfisher_cache,
                        TICKETSCAN__SOURCES__JIRA__URL=fake_jira.url,
                        TICKETSCAN__SOURCES__JIRA__EMAIL=fake_jira.email,
                        TICKETSCAN__SOURCES__JIRA__FLAVOR="cloud"),
    )
    findings = check_outcome(argo, outcome, planted, [fake_jira.token])
    assert {f["ticket"]["key"] for f in findings} == {"SEC-42"}
    # the fetch step really asked the (fake) Jira API, with the token from the Secret
    assert any("/rest/api/3/issue/SEC-42" in r.path for r in fake_jira.requests)


@pytest.mark.slow
def test_zendesk_event_through_the_aws_sqs_overlay(
        argo, dag_harness, fake_zendesk: FakeZendesk, standin_bin: Path, kingfisher_cache: Path
) -> None:
    rng = random.Random(7102)
    planted = {"description": fake_aws_key(rng), "private-comment": fake_aws_key(rng),
               "github-token": fake_github_pat(rng)}
    ticket = fake_zendesk.add_ticket(
        subject="Cannot deploy",
        description=f"Hello, our key is {planted['description']}\n"
                    f"token: {planted['github-token']}")
    fake_zendesk.add_comment(ticket, body=f"note: customer pasted {planted['private-comment']}",
                             public=False)
    body = {"type": "zen:event-type:ticket.created", "subject": f"zen:ticket:{ticket}",
            "detail": {"id": str(ticket)}, "event": {},
            "id": "6b1e2c1a-0000-4000-8000-000000000042", "time": "2026-01-01T10:00:00Z",
            "account_id": 1, "zendesk_event_version": "2022-11-06"}
    outcome = run_case(
        argo, dag_harness, "aws-sqs", body,
        secrets={"ticketscan-sources": {"ZENDESK_API_TOKEN": fake_zendesk.token or ""}},
        env=harness_env(standin_bin, kingfisher_cache,
                        TICKETSCAN__SOURCES__ZENDESK__URL=fake_zendesk.url, **fake_zendesk.env()),
    )
    findings = check_outcome(argo, outcome, planted, [fake_zendesk.token or ""])
    assert {f["ticket"]["key"] for f in findings} == {str(ticket)}
    assert any(f"/api/v2/tickets/{ticket}" in r.path for r in fake_zendesk.requests)


@pytest.mark.slow
def test_generic_webhook_through_the_nats_overlay_uses_the_payload_source(
        argo, dag_harness, standin_bin: Path, kingfisher_cache: Path) -> None:
    """A body no configured system claims falls to the built-in payload source (no API)."""
    rng = random.Random(7103)
    planted = {"payload": fake_aws_key(rng), "github-token": fake_github_pat(rng)}
    body = {"event": "form.submitted", "ticket": {"key": "FORM-7"},
            "text": f"<p>My key is {planted['payload']} & it fails</p>",
            "notes": f"build token {planted['github-token']}"}
    outcome = run_case(argo, dag_harness, "nats", body, secrets={},
                       env=harness_env(standin_bin, kingfisher_cache))
    check_outcome(argo, outcome, planted, [])


@pytest.mark.parametrize("overlay", ["gcp-pubsub", "aws-sqs", "nats"])
def test_sensor_mapping_of_every_overlay(argo, overlay: str) -> None:
    """Body -> message artifact (JSON text), transport attribute -> delivery-id; a message
    without the attribute gets the empty default (fetch then derives a stable id)."""
    sensor = argo.one(argo.render(overlay), "Sensor", "ticketscan")
    body = {"webhookEvent": "comment_created", "comment": {"body": "a <b> & c"}}
    workflow = argo.ArgoEventsParams.submit(
        sensor, {"ticket-event": transport_event(overlay, body, "d-1")})
    data = workflow["spec"]["arguments"]["artifacts"][0]["raw"]["data"]
    assert "\\u003cb\\u003e" in data  # Go's JSON escaping survives into the artifact
    assert json.loads(data) == body
    assert workflow["spec"]["arguments"]["parameters"][0]["value"] == "d-1"
    bare = transport_event(overlay, body, "d-1")
    for key in ("attributes", "messageAttributes", "header"):
        bare.pop(key, None)
    workflow = argo.ArgoEventsParams.submit(sensor, {"ticket-event": bare})
    assert workflow["spec"]["arguments"]["parameters"][0]["value"] == ""
    assert workflow["metadata"]["namespace"] == "ticketscan-workflows"
    assert workflow["spec"]["workflowTemplateRef"]["name"] == "ticket-secrets-scan"
