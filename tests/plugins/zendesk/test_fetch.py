"""Fetching Zendesk tickets through the real zenpy client from the fake Zendesk server."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from ticketscan.errors import ConfigError, SourceError
from ticketscan.models import Manifest, Part
from ticketscan.steps import fetch_event
from ticketscan_zendesk.source import ZendeskSource

from tests.fakes.zendesk import FakeZendesk

SECRET_DESC = "AKIAQ3ZL7XKMN2PTRW4Y"
SECRET_PRIVATE = "AKIAV5HJ2MXQ7RTLNP3K"
SECRET_HTML = "AKIAZ7W3KQ2MTPLX5NRV"
SECRET_FILE = "AKIAR4NPX2QLMZ7TKW3J"


def trigger(ticket: int, **extra: Any) -> dict[str, Any]:
    return {
        "source": "zendesk",
        "type": "ticketscan:zendesk-trigger",
        "ticket_id": str(ticket),
        **extra,
    }


def subscription(kind: str, ticket: int, event: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": f"zen:event-type:{kind}",
        "subject": f"zen:ticket:{ticket}",
        "detail": {"id": str(ticket)},
        "event": event,
        "id": "e-1",
        "time": "2025-01-08T10:12:07Z",
    }


def fetch(
    source: ZendeskSource, body: dict[str, Any], out: Path
) -> tuple[Manifest, dict[str, str]]:
    event = source.parse_event(body, {})
    event.delivery_id = event.delivery_id or "test"
    manifest = fetch_event(source, event, out)
    texts = {doc.path: (out / doc.text_path).read_text() for doc in manifest.documents}
    return manifest, texts


def planted_ticket(fake: FakeZendesk) -> int:
    ticket = fake.add_ticket(
        subject="VPN broken",
        description=f"Hi, my key is {SECRET_DESC}\nthanks",
        custom_fields=[(360001, "notes: nothing"), (360002, None), (360003, True)],
    )
    fake.add_comment(ticket, body=f"internal: customer sent {SECRET_PRIVATE}", public=False)
    fake.add_comment(
        ticket,
        body="see the config below",
        html_body=f'<div class="zd-comment"><p>see the config below</p><pre>aws_access_key_id = '
        f"{''.join(f'&#{ord(c)};' for c in SECRET_HTML)}</pre></div>",
    )
    fake.add_comment(
        ticket,
        body="logs attached",
        attachments=[("app.env", f"KEY={SECRET_FILE}\n".encode(), "text/plain")],
        inline=[("shot.png", b"\x89PNG\r\n\x1a\n\x00\x00binary", "image/png")],
    )
    return ticket


def test_whole_ticket_yields_every_part(make_source, fake: FakeZendesk, tmp_path: Path) -> None:
    ticket = planted_ticket(fake)
    source, _ = make_source()
    manifest, texts = fetch(source, trigger(ticket), tmp_path)
    comments = fake.comments[ticket]
    assert texts[f"{ticket}/subject"] == "VPN broken"
    assert SECRET_DESC in texts[f"{ticket}/description"]
    assert texts[f"{ticket}/field/360001"] == "notes: nothing"
    assert not any("/field/36000" in p and not p.endswith("360001") for p in texts)
    private = comments[1]["id"]
    assert SECRET_PRIVATE in texts[f"{ticket}/comment/{private}"]
    html_doc = f"{ticket}/comment/{comments[2]['id']}/html"
    assert texts[html_doc].splitlines() == [
        "see the config below",
        f"aws_access_key_id = {SECRET_HTML}",
    ]
    attachment = comments[3]["attachments"][0]["id"]
    assert texts[f"{ticket}/attachment/{attachment}/app.env"] == f"KEY={SECRET_FILE}\n"
    # the first comment is the description: scanned once, as the description
    assert f"{ticket}/comment/{comments[0]['id']}" not in texts
    by_path = {d.path: d for d in manifest.documents}
    assert by_path[f"{ticket}/comment/{private}"].public is False
    assert by_path[f"{ticket}/description"].part_id == str(comments[0]["id"])
    assert by_path[f"{ticket}/attachment/{attachment}/app.env"].part is Part.ATTACHMENT
    # the inline image was fetched and recorded as not scannable, not silently dropped
    assert [s.path for s in manifest.skipped] == [
        f"{ticket}/attachment/{comments[3]['attachments'][1]['id']}/shot.png"
    ]
    assert fake.requests_to("GET", r"/comments")[0].query["include_inline_images"] == ["true"]


def test_comments_are_paged_with_cursors(make_source, fake: FakeZendesk, tmp_path: Path) -> None:
    ticket = fake.add_ticket(description="first")
    for i in range(230):
        fake.add_comment(ticket, body=f"comment number {i}", public=i % 2 == 0)
    source, _ = make_source()
    _, texts = fetch(source, trigger(ticket), tmp_path)
    assert sum(1 for p in texts if "/comment/" in p) == 230
    pages = fake.requests_to("GET", r"/comments")
    assert len(pages) == 3
    assert "page[after]" not in pages[0].query and pages[0].query["page[size]"] == ["100"]
    assert all("page[after]" in p.query for p in pages[1:])


def test_comment_event_scans_only_that_comment(
    make_source, fake: FakeZendesk, tmp_path: Path
) -> None:
    ticket = planted_ticket(fake)
    private = fake.comments[ticket][1]["id"]
    source, _ = make_source()
    body = subscription(
        "ticket.comment_added", ticket, {"comment": {"id": str(private), "is_public": False}}
    )
    _, texts = fetch(source, body, tmp_path)
    assert list(texts) == [f"{ticket}/comment/{private}"]
    assert fake.requests_to("GET", r"/attachments/token/") == []


def test_attachment_event_scans_only_that_attachment(
    make_source, fake: FakeZendesk, tmp_path: Path
) -> None:
    ticket = planted_ticket(fake)
    attachment = fake.comments[ticket][3]["attachments"][0]["id"]
    source, _ = make_source()
    body = subscription(
        "ticket.attachment_linked_to_comment", ticket, {"attachment": {"id": str(attachment)}}
    )
    _, texts = fetch(source, body, tmp_path)
    assert list(texts) == [f"{ticket}/attachment/{attachment}/app.env"]


def test_ticket_scope_rescans_everything_on_any_event(
    make_source, fake: FakeZendesk, tmp_path: Path
) -> None:
    ticket = planted_ticket(fake)
    source, _ = make_source(scope="ticket")
    body = subscription(
        "ticket.comment_added", ticket, {"comment": {"id": str(fake.comments[ticket][1]["id"])}}
    )
    _, texts = fetch(source, body, tmp_path)
    assert f"{ticket}/description" in texts and f"{ticket}/subject" in texts


def test_custom_field_event_scans_that_field(
    make_source, fake: FakeZendesk, tmp_path: Path
) -> None:
    ticket = fake.add_ticket(custom_fields=[(1, "alpha text"), (2, "beta text")])
    source, _ = make_source()
    body = subscription("ticket.custom_field_changed", ticket, {"custom_field": {"id": "2"}})
    _, texts = fetch(source, body, tmp_path)
    assert texts == {f"{ticket}/field/2": "beta text"}


def test_custom_field_ids_restrict_fields(make_source, fake: FakeZendesk, tmp_path: Path) -> None:
    ticket = fake.add_ticket(custom_fields=[(1, "alpha text"), (2, "beta text")])
    source, _ = make_source(custom_field_ids=[1])
    _, texts = fetch(source, trigger(ticket), tmp_path)
    assert f"{ticket}/field/1" in texts and f"{ticket}/field/2" not in texts


def test_oauth_token_is_sent_as_bearer(fake: FakeZendesk, make_source, tmp_path: Path) -> None:
    fake.oauth_token = "oauth-abc-123456"
    ticket = fake.add_ticket(description="hello there")
    source, _ = make_source(email=None, token=None, oauth_token="oauth-abc-123456")
    _, texts = fetch(source, trigger(ticket), tmp_path)
    assert texts[f"{ticket}/description"] == "hello there"
    assert fake.requests[0].headers["authorization"] == "Bearer oauth-abc-123456"


def test_missing_credentials_are_a_config_error(fake: FakeZendesk, make_source) -> None:
    with pytest.raises(ConfigError, match="no credentials"):
        make_source(token=None)


# ------------------------------------------------------------------------------ errors


def test_401_names_the_credential(make_source, fake: FakeZendesk, tmp_path: Path) -> None:
    ticket = fake.add_ticket()
    source, _ = make_source(token="wrong-token-value")
    with pytest.raises(SourceError) as err:
        fetch(source, trigger(ticket), tmp_path)
    message = str(err.value)
    assert (
        "401" in message and "agent@example.com" in message and "sources.zendesk.token" in message
    )
    assert "wrong-token-value" not in message
    assert err.value.exit_code == 3


def test_403_names_the_permission(make_source, fake: FakeZendesk, tmp_path: Path) -> None:
    ticket = fake.add_ticket()
    fake.fail("GET", rf"^/api/v2/tickets/{ticket}\.json$", status=403)
    source, _ = make_source()
    with pytest.raises(SourceError) as err:
        fetch(source, trigger(ticket), tmp_path)
    assert "403" in str(err.value) and "agent role" in str(err.value)


def test_deleted_ticket_is_recorded_as_skipped(
    make_source, fake: FakeZendesk, tmp_path: Path
) -> None:
    source, _ = make_source()
    manifest, texts = fetch(source, trigger(987654), tmp_path)
    assert texts == {}
    assert manifest.skipped[0].path == "987654" and "not found" in manifest.skipped[0].reason


def test_deleted_attachment_is_recorded_as_skipped(
    make_source, fake: FakeZendesk, tmp_path: Path
) -> None:
    ticket = planted_ticket(fake)
    fake.fail("GET", r"^/attachments/token/", status=404, times=10)
    source, _ = make_source()
    manifest, texts = fetch(source, trigger(ticket), tmp_path)
    assert SECRET_DESC in texts[f"{ticket}/description"]
    reasons = [s.reason for s in manifest.skipped]
    assert len(reasons) == 2 and all("not found" in r for r in reasons)


def test_429_retry_after_is_honoured(make_source, fake: FakeZendesk, tmp_path: Path) -> None:
    ticket = fake.add_ticket(description="hello there")
    fake.fail("GET", rf"^/api/v2/tickets/{ticket}\.json$", status=429, times=2, retry_after="7")
    source, sleeps = make_source()
    _, texts = fetch(source, trigger(ticket), tmp_path)
    assert texts[f"{ticket}/description"] == "hello there"
    assert sleeps == [7.0, 7.0]
    assert len(fake.requests_to("GET", rf"^/api/v2/tickets/{ticket}\.json$")) == 3


def test_persistent_429_gives_up_retryable(make_source, fake: FakeZendesk, tmp_path: Path) -> None:
    ticket = fake.add_ticket()
    fake.fail("GET", r"^/api/v2/tickets/", status=429, times=100, retry_after="1")
    source, sleeps = make_source(retries=3)
    with pytest.raises(SourceError) as err:
        fetch(source, trigger(ticket), tmp_path)
    assert err.value.exit_code == 3 and "429" in str(err.value)
    assert sleeps == [1.0, 1.0, 1.0]
    assert len(fake.requests) == 4


def test_too_long_retry_after_gives_up_at_once(
    make_source, fake: FakeZendesk, tmp_path: Path
) -> None:
    ticket = fake.add_ticket()
    fake.fail("GET", r"^/api/v2/tickets/", status=429, times=100, retry_after="3600")
    source, sleeps = make_source()
    with pytest.raises(SourceError, match="Retry-After 3600"):
        fetch(source, trigger(ticket), tmp_path)
    assert sleeps == [] and len(fake.requests) == 1


def test_5xx_backs_off_exponentially_then_succeeds(
    make_source, fake: FakeZendesk, tmp_path: Path
) -> None:
    ticket = fake.add_ticket(description="hello there")
    fake.fail("GET", r"/comments", status=503, times=3)
    source, sleeps = make_source(backoff_base=1.0, backoff_max=3.0)
    _, texts = fetch(source, trigger(ticket), tmp_path)
    assert texts[f"{ticket}/description"] == "hello there"
    assert len(sleeps) == 3
    # base * 2**attempt with jitter in [50%, 100%], capped at backoff_max
    for attempt, waited in enumerate(sleeps):
        cap = min(3.0, 2**attempt)
        assert cap / 2 <= waited <= cap


def test_persistent_5xx_is_retryable(make_source, fake: FakeZendesk, tmp_path: Path) -> None:
    ticket = fake.add_ticket()
    fake.fail("GET", r"/comments", status=502, times=100)
    source, sleeps = make_source(retries=2)
    with pytest.raises(SourceError) as err:
        fetch(source, trigger(ticket), tmp_path)
    assert err.value.exit_code == 3 and "502" in str(err.value)
    assert len(sleeps) == 2


def test_timeout_is_retried_then_reported(make_source, fake: FakeZendesk, tmp_path: Path) -> None:
    ticket = fake.add_ticket()
    fake.fail("GET", r"^/api/v2/tickets/", status=200, times=100, delay=0.6, body={"ticket": {}})
    source, sleeps = make_source(timeout=0.2, retries=1)
    with pytest.raises(SourceError, match="did not answer in time"):
        fetch(source, trigger(ticket), tmp_path)
    assert len(sleeps) == 1


def test_attachment_over_the_limit_is_skipped_with_reason(
    make_source, fake: FakeZendesk, tmp_path: Path
) -> None:
    ticket = fake.add_ticket(
        attachments=[("big.log", b"x" * 5000, "text/plain"), ("small.log", b"y" * 10, "text/plain")]
    )
    source, _ = make_source(max_attachment_bytes=1000)
    manifest, texts = fetch(source, trigger(ticket), tmp_path)
    big = fake.comments[ticket][0]["attachments"][0]["id"]
    assert [(s.path, s.reason) for s in manifest.skipped] == [
        (
            f"{ticket}/attachment/{big}/big.log",
            "larger than max_attachment_bytes (5000 > 1000 bytes)",
        )
    ]
    assert any(p.endswith("small.log") for p in texts)
    assert (
        len(fake.requests_to("GET", r"^/attachments/token/")) == 1
    )  # the big one never downloaded


def test_attachment_growing_past_the_limit_while_streaming_is_skipped(
    make_source, fake: FakeZendesk, tmp_path: Path
) -> None:
    ticket = fake.add_ticket(attachments=[("grows.log", b"z" * 10, "text/plain")])
    aid = fake.comments[ticket][0]["attachments"][0]["id"]
    fake.attachments[aid].content = b"z" * 400_000  # metadata says 10 bytes, the file is bigger
    source, _ = make_source(max_attachment_bytes=100_000)
    manifest, _ = fetch(source, trigger(ticket), tmp_path)
    assert manifest.skipped[0].reason == "larger than max_attachment_bytes (100000 bytes)"


def test_no_secret_or_credential_reaches_the_logs(
    make_source, fake: FakeZendesk, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    ticket = planted_ticket(fake)
    fake.fail("GET", r"/comments", status=503, times=1)
    caplog.set_level(logging.DEBUG)
    source, _ = make_source()
    fetch(source, trigger(ticket), tmp_path)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "HTTP 503" in logged  # the retry was logged...
    for secret in (
        SECRET_DESC,
        SECRET_PRIVATE,
        SECRET_HTML,
        SECRET_FILE,
        "fake-api-token-0123456789",
    ):
        assert secret not in logged  # ...without ticket text or the token
    assert "attachments/token/" not in logged or "token/…" in logged
