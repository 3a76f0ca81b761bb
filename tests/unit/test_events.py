"""Decoding AMQP messages: what is an event and what is dead-lettered."""

from __future__ import annotations

import gzip
import re
import tracemalloc
import zlib
from typing import Any

import orjson
import pytest

from webhooksd.bus import Message
from webhooksd.errors import MalformedMessage
from webhooksd.kazoo.events import MAX_BODY_BYTES, decode, gunzip

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


def _bomb(inflated: int = 100 << 20) -> bytes:
    """A gzip of ``inflated`` zero bytes (100 MiB: about 100 kB compressed)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = bytes(1 << 20)
    parts = [compressor.compress(block) for _ in range(inflated // len(block))]
    return b"".join(parts) + compressor.flush()


def test_gzip_bomb_is_refused_without_inflating_it() -> None:
    """A 100 MiB gzip bomb is MalformedMessage, and refusing it allocates about the limit,
    not the 100 MiB it inflates to (gzip.decompress took 220 MB here)."""
    bomb = _bomb()
    assert len(bomb) < MAX_BODY_BYTES
    tracemalloc.start()
    try:
        with pytest.raises(MalformedMessage, match="inflates to more than"):
            decode(_message(bomb, "gzip"))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2 * MAX_BODY_BYTES, peak


def test_gunzip_limit_is_exact() -> None:
    """A body that inflates to the limit is kept; one byte more is refused."""
    body = b"x" * 5000
    assert gunzip(gzip.compress(body), 5000, chunk=64) == body
    with pytest.raises(MalformedMessage, match="more than 4999"):
        gunzip(gzip.compress(body), 4999, chunk=64)


def test_gunzip_multi_member_and_truncated() -> None:
    """Concatenated members are one body (as gzip.decompress has it); a cut body is refused."""
    one, two = gzip.compress(b'{"a":'), gzip.compress(b"1}")
    assert gunzip(one + two, MAX_BODY_BYTES) == b'{"a":1}'
    for cut in (one[:-4], one[:12], one + two[:15]):
        with pytest.raises(MalformedMessage, match=r"truncated|decompress"):
            gunzip(cut, MAX_BODY_BYTES)


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"Account-ID": 5}, "Account-ID is a number, not a string"),
        ({"Call-ID": {"id": "x"}}, "Call-ID is an object, not a string"),
        ({"Custom-Channel-Vars": ["a"]}, "Custom-Channel-Vars is a list, not an object"),
        ({"Custom-Channel-Vars": "a"}, "Custom-Channel-Vars is a string, not an object"),
        ({"Custom-Channel-Vars": {"Account-ID": True}}, "Account-ID is a boolean"),
        ({"Event-Name": {"n": 1}}, "non-string 'Event-Name'"),
    ],
)
def test_decode_rejects_wrongly_typed_routing_fields(fields: dict[str, Any], reason: str) -> None:
    """The fields events are routed by, present with the wrong type, are MalformedMessage
    naming the field (Kazoo's accessors would treat them as absent and drop the event)."""
    with pytest.raises(MalformedMessage, match=re.escape(reason)):
        decode(_message(orjson.dumps({**GOOD, **fields})))


@pytest.mark.parametrize(
    "fields",
    [{}, {"Account-ID": None}, {"Custom-Channel-Vars": {}}, {"Custom-Channel-Vars": None}],
)
def test_decode_accepts_absent_routing_fields(fields: dict[str, Any]) -> None:
    """Absent or null is not malformed: the modules ignore such events as Kazoo does."""
    assert decode(_message(orjson.dumps({**GOOD, **fields}))).name == "CHANNEL_CREATE"
