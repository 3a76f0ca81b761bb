"""Decoding AMQP messages: what is an event and what is dead-lettered."""

from __future__ import annotations

import gzip

import orjson
import pytest

from webhooksd.bus import Message
from webhooksd.errors import MalformedMessage
from webhooksd.kazoo.events import MAX_BODY_BYTES, decode

GOOD = {"Event-Category": "call_event", "Event-Name": "CHANNEL_CREATE", "Call-ID": "x"}


def _message(body: bytes, encoding: str | None = None) -> Message:
    return Message(
        exchange="callevt",
        routing_key="call.CHANNEL_CREATE.x",
        body=body,
        content_encoding=encoding,
    )


def test_decode_good_event_with_stable_key() -> None:
    """A Kazoo event decodes; the same bytes give the same event key (redelivery dedupe)."""
    raw = orjson.dumps(GOOD)
    first, again = decode(_message(raw)), decode(_message(raw))
    assert first.category == "call_event" and first.name == "CHANNEL_CREATE"
    assert first.event_key == again.event_key and len(first.event_id) == 10


def test_decode_gzip_body() -> None:
    """Some Kazoo publishers gzip the body; it is decoded transparently."""
    event = decode(_message(gzip.compress(orjson.dumps(GOOD)), "gzip"))
    assert event.body["Call-ID"] == "x"


@pytest.mark.parametrize(
    "raw",
    [
        b"not json",
        b"[1, 2]",
        b'"a string"',
        orjson.dumps({"Event-Name": "CHANNEL_CREATE"}),
        orjson.dumps({"Event-Category": 5, "Event-Name": "x"}),
        orjson.dumps({"Event-Category": "call_event", "Event-Name": ""}),
        b"\xff\xfe\x00",
    ],
)
def test_decode_rejects_malformed(raw: bytes) -> None:
    """Non-JSON, non-objects and missing routing keys are MalformedMessage."""
    with pytest.raises(MalformedMessage):
        decode(_message(raw))


def test_decode_rejects_huge_and_bad_gzip() -> None:
    """Bodies over the limit and broken gzip are MalformedMessage, not crashes."""
    with pytest.raises(MalformedMessage, match="exceeds"):
        decode(_message(b" " * (MAX_BODY_BYTES + 1)))
    with pytest.raises(MalformedMessage, match="gzip"):
        decode(_message(b"plain", "gzip"))
