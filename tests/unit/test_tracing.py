"""Tracing's parts: the settings, the retry job's trace context, the traceparent header, the
no-op tracer, and the log filter that keeps the SDK's repeated lines to one per interval."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import AsyncIterator

import orjson
import pytest

from tests.conftest import Receiver
from webhooksd.bus import Message
from webhooksd.config import load
from webhooksd.delivery.request import OutboundRequest
from webhooksd.delivery.retryjob import RetryJob, decode_jobs, encode_jobs
from webhooksd.errors import ConfigError
from webhooksd.records import Hook
from webhooksd.runtime.logs import OncePerInterval
from webhooksd.tracing import NO_TRACER, open_tracer
from webhooksd.tracing.otlp import OtlpTracer, collector_name, parse_traceparent

JOB = RetryJob(
    hook_id="h", account_id="a", payload={"k": 1}, event_id="e", msg_id="msg_1", attempt=2
)
HOOK = Hook(id="h" * 32, account_id="a" * 32, name="n", uri="http://r.example/x", hook="cdr")
TP = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


# -- settings ---------------------------------------------------------------------------------
def test_tracing_is_off_by_default_and_set_from_the_environment() -> None:
    default = load(environ={})
    assert default.otlp_endpoint == "" and default.traceparent is False
    assert default.trace_sample_ratio == 1.0 and default.otlp_headers == ()
    settings = load(
        environ={
            "WEBHOOKSD_OTLP_ENDPOINT": "https://collector.example:4318/v1/traces",
            "WEBHOOKSD_OTLP_HEADERS": "x-api-key=abc, x-team=ops",
            "WEBHOOKSD_TRACE_SAMPLE_RATIO": "0.25",
            "WEBHOOKSD_TRACEPARENT": "true",
        }
    )
    assert settings.otlp_headers == ("x-api-key=abc", "x-team=ops")
    assert settings.trace_sample_ratio == 0.25 and settings.traceparent is True


@pytest.mark.parametrize(
    ("environ", "setting"),
    [
        ({"WEBHOOKSD_OTLP_ENDPOINT": "collector:4318"}, "otlp_endpoint"),
        ({"WEBHOOKSD_OTLP_ENDPOINT": "http://user:pw@collector:4318/v1/traces"}, "otlp_endpoint"),
        ({"WEBHOOKSD_OTLP_HEADERS": "no-equals-sign"}, "otlp_headers"),
        ({"WEBHOOKSD_OTLP_HEADERS": "=value"}, "otlp_headers"),
        ({"WEBHOOKSD_TRACE_SAMPLE_RATIO": "1.5"}, "trace_sample_ratio"),
        ({"WEBHOOKSD_TRACE_SAMPLE_RATIO": "half"}, "trace_sample_ratio"),
        ({"WEBHOOKSD_TRACEPARENT": "true"}, "traceparent"),
    ],
)
def test_bad_tracing_settings_name_the_setting(environ: dict[str, str], setting: str) -> None:
    with pytest.raises(ConfigError, match=setting) as info:
        load(environ=environ)
    # an endpoint's password is not repeated in the line
    assert "pw" not in str(info.value)


# -- the retry job's trace context --------------------------------------------------------------
def test_a_job_without_trace_is_encoded_as_before() -> None:
    """With tracing off the message has no new key: older daemons read it unchanged."""
    assert "trace" not in orjson.loads(JOB.encode())


def test_the_trace_context_round_trips_alone_and_in_a_bundle() -> None:
    traced = RetryJob.decode(dataclasses.replace(JOB, trace=TP).encode())
    assert traced.trace == TP
    other = dataclasses.replace(JOB, hook_id="g")
    assert [j.trace for j in decode_jobs(encode_jobs([traced, other]))] == [TP, ""]


def test_a_job_from_an_older_daemon_has_no_trace_and_a_bad_one_gives_no_link() -> None:
    assert RetryJob.decode(JOB.encode()).trace == ""
    raw = orjson.loads(JOB.encode())
    raw["trace"] = "x" * 10_000
    assert len(RetryJob.decode(orjson.dumps(raw)).trace) <= 64
    for bad in ("x" * 64, "01-" + TP[3:], TP.upper(), "00-" + "0" * 32 + TP[35:], TP + "-1"):
        assert parse_traceparent(bad) is None, bad
    parsed = parse_traceparent(TP)
    assert parsed is not None and f"{parsed.span_id:016x}" == "b7ad6b7169203331"


# -- the header and the no-op tracer ------------------------------------------------------------
def test_the_no_op_tracer_changes_nothing() -> None:
    request = OutboundRequest(method="POST", uri="u", url="u", headers={"a": "b"})
    assert NO_TRACER.inject(request) is request
    assert NO_TRACER.carry(JOB) is JOB
    with NO_TRACER.consume("q", _message()) as span:
        span.set("k", "v")
        span.outcome(request, None)


@pytest.fixture(name="otlp_tracer")
async def _otlp_tracer(receiver: Receiver) -> AsyncIterator[OtlpTracer]:
    # the receiver stands in for a collector: the spans of these tests go nowhere useful
    settings = load(environ={}).replace(otlp_endpoint=receiver.url + "/v1/traces", traceparent=True)
    async with open_tracer(settings) as tracer:
        assert isinstance(tracer, OtlpTracer)
        yield tracer


async def test_traceparent_replaces_a_hooks_own_header(otlp_tracer: OtlpTracer) -> None:
    """The daemon's traceparent wins over a custom header of any case (one header sent)."""
    request = OutboundRequest(
        method="POST", uri="u", url="u", headers={"TraceParent": "00-forged", "X-A": "1"}
    )
    with otlp_tracer.attempt(HOOK, JOB):
        sent = otlp_tracer.inject(request)
        carried = otlp_tracer.carry(JOB)
    assert [k for k in sent.headers if k.lower() == "traceparent"] == ["traceparent"]
    assert sent.headers["traceparent"] == carried.trace and sent.headers["X-A"] == "1"
    assert parse_traceparent(carried.trace) is not None
    # outside any span there is nothing to send
    assert otlp_tracer.inject(request) is request and otlp_tracer.carry(JOB) is JOB


def test_the_collector_is_named_without_credentials() -> None:
    assert (
        collector_name("https://c.example:4318/v1/traces?token=x")
        == "https://c.example:4318/v1/traces"
    )


def _message() -> Message:
    return Message(exchange="callevt", routing_key="call.X.y", body=b"{}")


# -- the log filter -------------------------------------------------------------------------------
def test_the_sdks_repeated_lines_are_let_through_once_per_interval() -> None:
    clock = [0.0]
    gate = OncePerInterval(interval_s=60, clock=lambda: clock[0])

    def record(name: str, msg: str) -> logging.LogRecord:
        return logging.LogRecord(name, logging.ERROR, __file__, 1, msg, None, None)

    sdk = "opentelemetry.exporter.otlp.common.http"
    assert gate.filter(record(sdk, "Failed to export %s batch"))
    assert not gate.filter(record(sdk, "Failed to export %s batch"))
    assert not gate.filter(record(sdk, "Failed to export %s batch"))
    assert gate.filter(record(sdk, "Queue full, dropping %s."))  # another line: its own count
    assert all(gate.filter(record("aiohttp.access", "GET /")) for _ in range(3))
    clock[0] = 61.0
    again = record(sdk, "Failed to export %s batch")
    assert gate.filter(again) and again.msg.endswith("(and 2 more like it)")
