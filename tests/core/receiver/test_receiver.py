"""The receiver: every refusal has its status and publishes nothing; accepted events are exact.

Driven in-process with Starlette's TestClient against a real embedded (SQLite) queue.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from starlette.testclient import TestClient
from ticketscan.builtins.embedded import EmbeddedTransport
from ticketscan.components import Message, Transport
from ticketscan.config import load_config
from ticketscan.errors import ConfigError, TransportError
from ticketscan.receiver import (
    ReceiverSettings,
    create_app,
    receiver_settings,
    sign_jira,
    sign_zendesk,
)

JIRA_SECRET = "jira-webhook-secret-3f9a1c"
JIRA_OLD_SECRET = "jira-webhook-secret-old-77b2"
ZENDESK_SECRET = "zendesk-signing-secret-c0ffee"
API_KEYS = ("key-A-9d8f7e6c5b4a", "key-B-1a2b3c4d5e6f")
BODY = json.dumps({"webhookEvent": "comment_created", "issue": {"key": "SUP-1"},
                   "comment": {"id": "1", "body": "hello"}}).encode()


def _settings(**extra: object) -> ReceiverSettings:
    data = {
        "sources": {
            "jira": {"secrets": [JIRA_SECRET, JIRA_OLD_SECRET]},
            "zendesk": {"secrets": [ZENDESK_SECRET], "replay_window": 300},
            "payload": {"auth": "api-key", "secrets": list(API_KEYS), "allow_query_token": True},
        },
        "max_body_bytes": 4096,
        **extra,
    }
    return ReceiverSettings.model_validate(data)


@pytest.fixture
def queue(tmp_path: Path) -> Iterator[EmbeddedTransport]:
    transport = EmbeddedTransport(EmbeddedTransport.Settings(path=str(tmp_path / "q.db")))
    yield transport
    transport.close()


@pytest.fixture
def client(queue: EmbeddedTransport) -> Iterator[TestClient]:
    app = create_app(queue, _settings(), ["jira", "zendesk", "payload", "files"],
                     close_transport=False)
    with TestClient(app) as test_client:
        yield test_client


def _jira_headers(body: bytes = BODY, secret: str = JIRA_SECRET) -> dict[str, str]:
    return {"Content-Type": "application/json", "X-Hub-Signature": sign_jira(secret, body)}


def _zendesk_headers(body: bytes = BODY, when: datetime | None = None) -> dict[str, str]:
    stamp = (when or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "Content-Type": "application/json; charset=utf-8",
        "X-Zendesk-Webhook-Signature-Timestamp": stamp,
        "X-Zendesk-Webhook-Signature": sign_zendesk(ZENDESK_SECRET, stamp, BODY),
        "X-Zendesk-Webhook-Invocation-Id": "01HANA2B5D5W9XSJS3NE5SQA1J",
    }


def _refused(client: TestClient, queue: EmbeddedTransport, path: str, status: int,
             body: bytes = BODY, headers: dict[str, str] | None = None) -> str:
    response = client.post(path, content=body, headers=headers or {})
    assert response.status_code == status, response.text
    reason = response.json()["error"]
    assert "\n" not in reason and reason
    assert queue.depth() == 0, "a refused delivery reached the queue"
    return reason


# -- accepted ------------------------------------------------------------------------------


def test_signed_jira_event_is_published_byte_for_byte(client, queue) -> None:
    headers = {**_jira_headers(), "X-Atlassian-Webhook-Identifier": "jira-delivery-1"}
    response = client.post("/hooks/jira", content=BODY, headers=headers)
    assert response.status_code == 202
    assert response.json()["delivery_id"] == "jira-delivery-1"
    [message] = queue.receive(max_messages=5, timeout=1)
    assert message.body == BODY
    assert message.attributes["source"] == "jira"
    assert message.attributes["delivery_id"] == "jira-delivery-1"
    assert message.attributes["h-x-atlassian-webhook-identifier"] == "jira-delivery-1"
    assert datetime.fromisoformat(message.attributes["received_at"]).tzinfo is not None


def test_previous_jira_secret_still_accepted_during_rotation(client, queue) -> None:
    response = client.post("/hooks/jira", content=BODY,
                           headers=_jira_headers(secret=JIRA_OLD_SECRET))
    assert response.status_code == 202


def test_zendesk_signature_and_invocation_id(client, queue) -> None:
    response = client.post("/hooks/zendesk", content=BODY, headers=_zendesk_headers())
    assert response.status_code == 202
    [message] = queue.receive(timeout=1)
    assert message.delivery_id == "01HANA2B5D5W9XSJS3NE5SQA1J"


def test_api_key_in_header_or_url_token_each_active_key(client, queue) -> None:
    for key in API_KEYS:
        r = client.post("/hooks/payload", content=BODY,
                        headers={"Content-Type": "application/json", "X-Ticketscan-Key": key})
        assert r.status_code == 202
    r = client.post(f"/hooks/payload?token={API_KEYS[1]}", content=b'{"x": 1}',
                    headers={"Content-Type": "application/json"})
    assert r.status_code == 202


def test_redelivery_without_id_gets_the_same_hash_id_and_is_dropped(client, queue) -> None:
    first = client.post("/hooks/jira", content=BODY, headers=_jira_headers())
    second = client.post("/hooks/jira", content=BODY, headers=_jira_headers())
    assert first.status_code == second.status_code == 202
    assert first.json()["delivery_id"] == second.json()["delivery_id"]
    assert first.json()["delivery_id"].startswith("sha256:")
    assert queue.depth() == 1


# -- refused, nothing published --------------------------------------------------------------


def test_missing_api_key(client, queue) -> None:
    reason = _refused(client, queue, "/hooks/payload", 401,
                      headers={"Content-Type": "application/json"})
    assert "missing" in reason


def test_wrong_api_key_is_refused_and_never_echoed(client, queue, caplog) -> None:
    wrong = "key-C-not-a-valid-key-00"
    reason = _refused(client, queue, "/hooks/payload", 401,
                      headers={"Content-Type": "application/json", "X-Ticketscan-Key": wrong})
    assert wrong not in reason and wrong not in caplog.text
    for key in API_KEYS:
        assert key not in caplog.text


def test_url_token_refused_where_not_allowed(tmp_path: Path, queue) -> None:
    settings = ReceiverSettings.model_validate(
        {"sources": {"payload": {"auth": "api-key", "secrets": [API_KEYS[0]]}}})
    with TestClient(create_app(queue, settings, ["payload"], close_transport=False)) as c:
        _refused(c, queue, f"/hooks/payload?token={API_KEYS[0]}", 401,
                 headers={"Content-Type": "application/json"})


def test_wrong_jira_signature(client, queue) -> None:
    _refused(client, queue, "/hooks/jira", 401, headers=_jira_headers(secret="not-the-secret"))


def test_missing_jira_signature(client, queue) -> None:
    _refused(client, queue, "/hooks/jira", 401, headers={"Content-Type": "application/json"})


def test_body_altered_after_signing(client, queue) -> None:
    altered = BODY.replace(b"hello", b"hellO")
    _refused(client, queue, "/hooks/jira", 401, body=altered, headers=_jira_headers(BODY))
    _refused(client, queue, "/hooks/zendesk", 401, body=altered, headers=_zendesk_headers())


def test_stale_zendesk_timestamp(client, queue) -> None:
    old = datetime.now(UTC) - timedelta(minutes=10)
    reason = _refused(client, queue, "/hooks/zendesk", 401, headers=_zendesk_headers(when=old))
    assert "replay window" in reason


def test_zendesk_timestamp_swapped_after_signing(client, queue) -> None:
    headers = _zendesk_headers()
    headers["X-Zendesk-Webhook-Signature-Timestamp"] = datetime.now(UTC).strftime(
        "%Y-%m-%dT%H:%M:%S.000Z")
    _refused(client, queue, "/hooks/zendesk", 401, headers=headers)


def test_oversized_body_by_content_length(client, queue) -> None:
    big = b'{"x": "' + b"a" * 5000 + b'"}'
    _refused(client, queue, "/hooks/jira", 413, body=big, headers=_jira_headers(big))


def test_oversized_body_streamed_without_content_length(client, queue) -> None:
    big = b'{"x": "' + b"a" * 5000 + b'"}'

    def chunks() -> Iterator[bytes]:
        for i in range(0, len(big), 1000):
            yield big[i : i + 1000]

    response = client.post("/hooks/jira", content=chunks(), headers=_jira_headers(big))
    assert response.status_code == 413
    assert queue.depth() == 0


def test_signed_but_not_json(client, queue) -> None:
    body = b"this is not json"
    _refused(client, queue, "/hooks/jira", 400, body=body, headers=_jira_headers(body))


def test_signed_json_but_not_an_object(client, queue) -> None:
    body = b"[1, 2, 3]"
    _refused(client, queue, "/hooks/jira", 400, body=body, headers=_jira_headers(body))


def test_wrong_content_type(client, queue) -> None:
    headers = {**_jira_headers(), "Content-Type": "text/plain"}
    _refused(client, queue, "/hooks/jira", 415, headers=headers)


def test_unknown_source(client, queue) -> None:
    _refused(client, queue, "/hooks/nosuchsystem", 404, headers=_jira_headers())


def test_installed_source_without_auth_config_fails_closed(client, queue) -> None:
    _refused(client, queue, "/hooks/files", 403, headers={"Content-Type": "application/json"})


def test_rate_limit(tmp_path: Path, queue) -> None:
    settings = ReceiverSettings.model_validate(
        {"sources": {"payload": {"auth": "api-key", "secrets": [API_KEYS[0]], "rate_limit": 1}}})
    headers = {"Content-Type": "application/json", "X-Ticketscan-Key": API_KEYS[0]}
    with TestClient(create_app(queue, settings, ["payload"], close_transport=False)) as c:
        codes = [c.post("/hooks/payload", content=b'{"n": %d}' % i, headers=headers).status_code
                 for i in range(6)]
    assert codes.count(202) == 2 and codes.count(429) == 4
    assert queue.depth() == 2


def test_refusals_are_counted_in_metrics(client, queue) -> None:
    client.post("/hooks/jira", content=BODY, headers=_jira_headers(secret="bad"))
    client.post("/hooks/nosuch", content=BODY)
    client.post("/hooks/jira", content=BODY, headers=_jira_headers())
    text = client.get("/metrics").text
    assert 'ticketscan_receiver_requests_total{outcome="bad-signature",source="jira"} 1.0' in text
    unknown = 'ticketscan_receiver_requests_total{outcome="unknown-source",source="unknown"} 1.0'
    assert unknown in text
    assert 'ticketscan_receiver_requests_total{outcome="accepted",source="jira"} 1.0' in text
    assert "ticketscan_receiver_publish_seconds_count" in text


# -- transport down ----------------------------------------------------------------------------


class _DownTransport(Transport):
    name = "down"

    def _publish(self, message: Message) -> None:
        raise TransportError("broker unreachable", plugin=self.name)

    def ping(self) -> None:
        raise TransportError("broker unreachable", plugin=self.name)


def test_503_with_retry_after_when_the_transport_cannot_confirm(tmp_path: Path) -> None:
    down = _DownTransport()
    with TestClient(create_app(down, _settings(retry_after=7), ["jira"])) as c:
        response = c.post("/hooks/jira", content=BODY, headers=_jira_headers())
        assert response.status_code == 503
        assert response.headers["Retry-After"] == "7"
        assert c.get("/readyz").status_code == 503
        assert c.get("/healthz").status_code == 200
        metrics = c.get("/metrics").text
    assert 'ticketscan_receiver_queue_errors_total{transport="down"} 1.0' in metrics


def test_readyz_ok_with_a_reachable_queue(client) -> None:
    assert client.get("/readyz").json()["status"] == "ready"


# -- configuration -----------------------------------------------------------------------------


def test_secrets_in_clear_are_refused_in_config(tmp_path: Path) -> None:
    toml = tmp_path / "ticketscan.toml"
    toml.write_text('[receiver.sources.jira]\nsecrets = ["literal-secret"]\n')
    with pytest.raises(ConfigError, match="by reference"):
        receiver_settings(load_config(toml, env={}))


def test_secrets_by_env_and_file_reference(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "zd.secret").write_text(ZENDESK_SECRET + "\n")
    monkeypatch.setenv("HOOK_SECRET_ENV", JIRA_SECRET)
    toml = tmp_path / "ticketscan.toml"
    toml.write_text(
        '[receiver]\nmax_body_bytes = 2048\n'
        '[receiver.sources.jira]\nsecrets = [{ env = "HOOK_SECRET_ENV" }]\n'
        '[receiver.sources.zendesk]\nsecrets = [{ file = "zd.secret" }]\n'
    )
    settings = receiver_settings(load_config(toml, env=dict(os.environ)))
    assert settings.max_body_bytes == 2048
    assert settings.sources["jira"].secrets[0].get_secret_value() == JIRA_SECRET
    assert settings.sources["zendesk"].secrets[0].get_secret_value() == ZENDESK_SECRET
    assert JIRA_SECRET not in repr(settings)
