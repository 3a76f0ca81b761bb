"""A decoded Kazoo AMQP message (Kazoo ``kz_api`` envelope) and its decoding rules."""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from webhooksd.bus import Message
from webhooksd.errors import MalformedMessage
from webhooksd.kazoo.payloads import object_field, str_field

#: fields read to route an event (to a module, to an account): present with another type,
#: the message is malformed (Kazoo's accessors would silently treat them as absent)
ROUTING_STRINGS: tuple[str | tuple[str, ...], ...] = (
    "Account-ID",
    "Call-ID",
    ("Custom-Channel-Vars", "Account-ID"),
)

#: Kazoo's mandatory envelope keys (``kz_api:validate/4`` → ``?DEFAULT_HEADERS``), less the two
#: that only identify the publisher; webhooksd needs the category and the name to route.
ROUTING_KEYS = ("Event-Category", "Event-Name")

#: the types a routing string may have in a decoded body (JSON's string, or absent/``null``)
_STR_OR_NONE = (str, type(None))
_DICT_OR_NONE = (dict, type(None))

#: bodies larger than this are refused before decoding, and a gzip body is refused as soon as
#: it decompresses to more than this (a 1 MB gzip of zeros inflates to 1 GB)
MAX_BODY_BYTES = 4 * 1024 * 1024
#: how much a gzip body may inflate per step while it is checked against the limit
INFLATE_CHUNK_BYTES = 64 * 1024
#: zlib's window bits for a gzip header and trailer (CRC and length checked)
_GZIP_WBITS = 16 + zlib.MAX_WBITS


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """One Kazoo message: its JSON object and where it came from.

    ``event_key`` is the SHA-256 of the raw body: a redelivery of the same message has the same
    key, so the ``webhook-id`` derived from it lets receivers drop duplicates.
    """

    exchange: str
    routing_key: str
    body: Mapping[str, Any]
    event_key: str

    @property
    def category(self) -> str:
        return str(self.body.get("Event-Category", ""))

    @property
    def name(self) -> str:
        return str(self.body.get("Event-Name", ""))

    @property
    def event_id(self) -> str:
        """Kazoo's 10-hex ``event_id`` of the attempt documents, stable for this event."""
        return self.event_key[:10]

    @classmethod
    def from_body(cls, exchange: str, routing_key: str, body: Mapping[str, Any]) -> Event:
        """Build an event from an already decoded object (for tests: the daemon decodes)."""
        raw = orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
        return cls(
            exchange=exchange,
            routing_key=routing_key,
            body=body,
            event_key=hashlib.sha256(raw).hexdigest(),
        )


def decode(message: Message) -> Event:
    """Decode a bus message into an :class:`Event`, or raise :class:`MalformedMessage`."""
    raw = message.body
    if len(raw) > MAX_BODY_BYTES:
        raise MalformedMessage(f"body of {len(raw)} bytes exceeds {MAX_BODY_BYTES}")
    if (message.content_encoding or "").lower() == "gzip":
        raw = gunzip(raw, MAX_BODY_BYTES)
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise MalformedMessage(f"body is not JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise MalformedMessage(f"body is a JSON {type(body).__name__}, not an object")
    for key in ROUTING_KEYS:
        if not isinstance(body.get(key), str) or not body[key]:
            raise MalformedMessage(f"missing or non-string {key!r}")
    if not _routable(body):
        # something has another type: the general accessors find it and name it
        object_field(body, "Custom-Channel-Vars")
        for path in ROUTING_STRINGS:
            str_field(body, path)
    return Event(
        exchange=message.exchange,
        routing_key=message.routing_key,
        body=body,
        event_key=hashlib.sha256(message.body).hexdigest(),
    )


def _routable(body: dict[str, Any]) -> bool:
    """Each of :data:`ROUTING_STRINGS` a string or absent and the custom channel variables an
    object or absent, as a decoded body has them: told by type, without the general accessors
    (five calls an event); False sends the body through them, which raise for what is wrong."""
    for path in ROUTING_STRINGS:
        value: Any = body
        for key in (path,) if type(path) is str else path:
            if value is None:
                break
            if type(value) is not dict:
                return False
            value = value.get(key)
        if type(value) not in _STR_OR_NONE:
            return False
    return type(body.get("Custom-Channel-Vars")) in _DICT_OR_NONE


def gunzip(data: bytes, limit: int, chunk: int = INFLATE_CHUNK_BYTES) -> bytes:
    """Decompress a gzip body (one member or several), raising :class:`MalformedMessage` as
    soon as the output would exceed ``limit``: at most ``limit + chunk`` bytes are inflated,
    whatever the compression ratio."""
    out = bytearray()
    pending = data
    while True:
        inflater = zlib.decompressobj(_GZIP_WBITS)
        try:
            while not inflater.eof:
                piece = inflater.decompress(pending, chunk)
                pending = inflater.unconsumed_tail
                if not piece and not pending:
                    raise MalformedMessage("gzip body does not decompress: truncated")
                out += piece
                if len(out) > limit:
                    raise MalformedMessage(f"gzip body inflates to more than {limit} bytes")
        except zlib.error as exc:
            raise MalformedMessage(f"gzip body does not decompress: {exc}") from exc
        pending = inflater.unused_data
        if not pending:
            return bytes(out)
