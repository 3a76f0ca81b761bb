"""A delivery job: one attempt of one hook, everything needed to send it without the original
message.

It is the one record of an attempt: the dispatcher sends a job (a first attempt, a retry, a
test or a replay), and a job due again is this record, ``attempt`` advanced, serialised onto
the retry queue (:meth:`RetryJob.encode`) and read back from it (:meth:`RetryJob.decode`).
The wire format is version 1: a JSON object of the fields below plus ``"v": 1``. Jobs queued
together with one delay (the failures an open breaker or a busy endpoint gave one event's
hooks) travel as one message, ``{"v": 1, "jobs": [<job>, …]}`` (:func:`encode_jobs`,
:func:`decode_jobs`): one publish instead of one per hook, which is what let a dead endpoint
with many hooks hold up the broker connection every other tenant's retries share. A bundle
is sent zlib-compressed (its first byte is then 0x78, never JSON's ``{``): its jobs mostly
carry the same event's payload, so 100 KB becomes about 1.5 KB, and a slow tenant's
deferrals, thousands a second, no longer load the broker and the connection that every
other tenant's events come through (issue 13). Uncompressed bundles are still read.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from webhooksd.errors import MalformedMessage

VERSION = 1
#: jobs in one message at most (a message stays well under the bus's size limit)
MAX_BUNDLE = 100
#: a ``traceparent`` is 55 characters; anything longer is not one
MAX_TRACE = 64
#: a compressed bundle inflates to this many bytes at most (else it is malformed)
MAX_BUNDLE_BYTES = 64 * 1024 * 1024
#: zlib's level: the fastest; a bundle's repeated payloads compress ~65x even so
ZLIB_LEVEL = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryJob:
    hook_id: str
    account_id: str
    payload: Mapping[str, Any]
    event_id: str
    msg_id: str
    #: the number of the attempt this job makes (1 for a deferred first attempt)
    attempt: int
    #: how many times this attempt was handed to the retry queue unsent because its endpoint
    #: had no free slot (its next deferral waits longer); 0 in older jobs
    deferred: int = 0
    #: the event's ``Event.event_key`` (the SHA-256 of its raw body, not its routing key),
    #: what ``msg_id`` was derived from; "" in older jobs and in test and replay sends
    event_key: str = ""
    #: the hook's event when the delivery began, as attempt records store it; "" in older jobs
    #: and in test and replay sends (then the hook's current event is recorded)
    hook_event: str = ""
    #: the W3C ``traceparent`` of the attempt that queued this job, which the retry's own
    #: trace links to; "" with tracing off and in older jobs (then there is no link), and left
    #: out of the message when empty, so that messages are unchanged with tracing off
    trace: str = ""

    def encode(self) -> bytes:
        return orjson.dumps(self._fields())

    def _fields(self) -> dict[str, Any]:
        fields: dict[str, Any] = {
            "v": VERSION,
            "hook_id": self.hook_id,
            "account_id": self.account_id,
            "payload": self.payload,
            "event_id": self.event_id,
            "msg_id": self.msg_id,
            "attempt": self.attempt,
            "event_key": self.event_key,
            "hook_event": self.hook_event,
            "deferred": self.deferred,
        }
        if self.trace:
            fields["trace"] = self.trace
        return fields

    @classmethod
    def decode(cls, raw: bytes) -> RetryJob:
        data = _loads(raw)
        if "jobs" in data:
            raise MalformedMessage("retry job is a bundle")
        return cls._from(data)

    @classmethod
    def _from(cls, data: Any) -> RetryJob:
        if not isinstance(data, dict) or data.get("v") != VERSION:
            raise MalformedMessage("retry job has an unknown shape")
        try:
            job = cls(
                hook_id=str(data["hook_id"]),
                account_id=str(data["account_id"]),
                payload=dict(data["payload"]),
                event_id=str(data["event_id"]),
                msg_id=str(data["msg_id"]),
                attempt=int(data["attempt"]),
                event_key=str(data.get("event_key") or ""),
                hook_event=str(data.get("hook_event") or ""),
                deferred=int(data.get("deferred") or 0),
                # a link, not a command: one that is not a traceparent is dropped when read
                trace=str(data.get("trace") or "")[:MAX_TRACE],
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise MalformedMessage(f"retry job is missing {exc}") from exc
        if not isinstance(data["payload"], dict):
            raise MalformedMessage("retry job payload is not an object")
        if job.attempt < 1:
            raise MalformedMessage("retry job attempt must be positive")
        if job.deferred < 0:
            raise MalformedMessage("retry job deferred must not be negative")
        return job


def encode_jobs(jobs: Sequence[RetryJob]) -> bytes:
    """One message for ``jobs`` (at most :data:`MAX_BUNDLE`): a single job as itself."""
    if not 0 < len(jobs) <= MAX_BUNDLE:
        raise ValueError(f"a bundle holds 1 to {MAX_BUNDLE} jobs, not {len(jobs)}")
    if len(jobs) == 1:
        return jobs[0].encode()
    bundle = orjson.dumps({"v": VERSION, "jobs": [job._fields() for job in jobs]})
    return zlib.compress(bundle, ZLIB_LEVEL)


def decode_jobs(raw: bytes) -> list[RetryJob]:
    """The jobs of a message: a single job or a bundle, compressed or not (MalformedMessage
    if any is bad)."""
    data = _loads(_inflate(raw) if raw[:1] == b"\x78" else raw)
    if "jobs" not in data:
        return [RetryJob._from(data)]
    jobs = data["jobs"]
    if data.get("v") != VERSION or not isinstance(jobs, list) or not 0 < len(jobs) <= MAX_BUNDLE:
        raise MalformedMessage("retry bundle has an unknown shape")
    return [RetryJob._from(job) for job in jobs]


def _inflate(raw: bytes) -> bytes:
    inflater = zlib.decompressobj()
    try:
        data = inflater.decompress(raw, MAX_BUNDLE_BYTES)
    except zlib.error as exc:
        raise MalformedMessage(f"retry bundle does not inflate: {exc}") from exc
    if inflater.unconsumed_tail or not inflater.eof:
        raise MalformedMessage("retry bundle is truncated or inflates past its bound")
    return data


def _loads(raw: bytes) -> dict[str, Any]:
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise MalformedMessage(f"retry job is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise MalformedMessage("retry job has an unknown shape")
    return data
