"""Hypothesis: a signature check never accepts a body (or timestamp) it did not sign."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, settings, strategies as st
from ticketscan.receiver import (
    check_api_key,
    check_jira_signature,
    check_zendesk_signature,
    sign_jira,
    sign_zendesk,
)

secrets = st.text(min_size=1, max_size=40).filter(lambda s: "\x00" not in s)
bodies = st.binary(max_size=512)
NOW = datetime(2024, 6, 3, 12, 0, 0, tzinfo=UTC)
STAMP = "2024-06-03T12:00:00Z"


@given(secret=secrets, signed=bodies, sent=bodies)
@settings(max_examples=300)
def test_jira_accepts_exactly_the_signed_body(secret: str, signed: bytes, sent: bytes) -> None:
    headers = {"x-hub-signature": sign_jira(secret, signed)}
    refusal = check_jira_signature(headers, sent, [secret])
    assert (refusal is None) == (signed == sent)


@given(secret=secrets, other=secrets, body=bodies)
def test_jira_refuses_a_signature_under_another_secret(secret: str, other: str,
                                                         body: bytes) -> None:
    headers = {"x-hub-signature": sign_jira(other, body)}
    assert (check_jira_signature(headers, body, [secret]) is None) == (secret == other)


@given(secret=secrets, signed=bodies, sent=bodies, stamp_signed=st.sampled_from(
    [STAMP, "2024-06-03T12:00:01Z", "2024-06-03T11:59:59Z"]))
@settings(max_examples=300)
def test_zendesk_accepts_exactly_the_signed_timestamp_and_body(
    secret: str, signed: bytes, sent: bytes, stamp_signed: str
) -> None:
    headers = {
        "x-zendesk-webhook-signature": sign_zendesk(secret, stamp_signed, signed),
        "x-zendesk-webhook-signature-timestamp": STAMP,
    }
    refusal = check_zendesk_signature(headers, sent, [secret], replay_window=300, now=NOW)
    assert (refusal is None) == (signed == sent and stamp_signed == STAMP)


@given(header_value=st.text(max_size=120), body=bodies)
def test_arbitrary_signature_headers_never_crash_or_pass(header_value: str, body: bytes) -> None:
    secret = "a-secret-nobody-guesses"
    genuine = sign_jira(secret, body)
    refusal = check_jira_signature({"x-hub-signature": header_value}, body, [secret])
    if header_value.strip().lower() != genuine:
        assert refusal is not None and refusal.status == 401
    zd = check_zendesk_signature(
        {"x-zendesk-webhook-signature": header_value,
         "x-zendesk-webhook-signature-timestamp": header_value},
        body, [secret], replay_window=300, now=NOW,
    )
    assert zd is not None and zd.status == 401


@given(given_key=st.text(max_size=60))
def test_api_key_accepts_only_an_active_key(given_key: str) -> None:
    keys = ["key-one-abcdef", "key-two-123456"]
    refusal = check_api_key({"x-key": given_key}, {}, keys, header="X-Key",
                            allow_query_token=False)
    assert (refusal is None) == (given_key in keys)
