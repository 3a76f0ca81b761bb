"""The plain-words cause of a failed attempt, from records built the way the dispatcher
builds them (``attempt_record`` over an ``Outcome``)."""

from __future__ import annotations

import pytest

from webhooksd.delivery.attempts import attempt_record
from webhooksd.delivery.cause import cause
from webhooksd.delivery.outcome import BAD_RESPONSE, CLIENT_ERROR, Outcome
from webhooksd.delivery.request import OutboundRequest
from webhooksd.records import Hook


def _record(outcome: Outcome, uri: str = "https://hooks.example:8443/in") -> dict[str, object]:
    hook = Hook(id="h1", account_id="a1", name="n", uri=uri, hook="channel_create")
    request = OutboundRequest(method="POST", uri=uri, url=uri, headers={}, body=b"")
    record = attempt_record(
        hook=hook,
        request=request,
        outcome=outcome,
        event_id="e1",
        attempt=1,
        retries_left=0,
        payload=None,
    )
    return dict(record.doc)


def _failure(client_error: str, *, reason: str = CLIENT_ERROR, ms: float = 3.0) -> Outcome:
    return Outcome(kind="retryable", client_error=client_error, reason=reason, duration_ms=ms)


@pytest.mark.parametrize(
    ("outcome", "said"),
    [
        (
            _failure("failed_connect: econnrefused"),
            "Connection refused by hooks.example:8443: nothing is listening there",
        ),
        (_failure("failed_connect: ehostunreach"), "no route to the host"),
        (_failure("nxdomain"), "DNS name not found: hooks.example"),
        (_failure("timeout", ms=10_004.2), "Timed out after 10 s waiting for hooks.example:8443"),
        (_failure("tls_error: certificate verify failed"), "TLS error with hooks.example:8443"),
        (
            _failure("ssrf_blocked: 10.0.0.1 refused", reason="target address not allowed"),
            "allow_private_targets",
        ),
        (_failure("auth_failed: status 401"), "authentication token failed: status 401"),
        (Outcome(kind="retryable", status=503, reason=BAD_RESPONSE), "HTTP 503"),
        (Outcome(kind="gone", status=410, reason=BAD_RESPONSE), "HTTP 410 Gone"),
        (Outcome(kind="final", status=302, reason=BAD_RESPONSE), "redirects are not followed"),
    ],
)
def test_each_failure_has_plain_words(outcome: Outcome, said: str) -> None:
    assert said in (cause(_record(outcome)) or "")


def test_an_ssrf_block_names_both_settings() -> None:
    said = cause(_record(_failure("ssrf_blocked: x", reason="target address not allowed")))
    assert said is not None and said.startswith("Blocked by the SSRF guard")
    assert "allowed_target_networks" in said


def test_a_success_has_no_cause_and_a_default_port_is_named() -> None:
    assert cause(_record(Outcome(kind="success", status=200))) is None
    refused = _record(_failure("failed_connect: econnrefused"), uri="http://hooks.example/in")
    assert "hooks.example:80" in (cause(refused) or "")
