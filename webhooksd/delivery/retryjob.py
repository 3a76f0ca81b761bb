"""A delivery job: one attempt of one hook, everything needed to send it without the original
message.

It is the one record of an attempt: the dispatcher sends a job (a first attempt, a retry, a
test or a replay), and a job due again is this record, ``attempt`` advanced, serialised onto
the retry queue (:meth:`RetryJob.encode`) and read back from it (:meth:`RetryJob.decode`).
The wire format is version 1: a JSON object of the fields below plus ``"v": 1``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from webhooksd.errors import MalformedMessage

VERSION = 1


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

    def encode(self) -> bytes:
        return orjson.dumps(
            {
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
        )

    @classmethod
    def decode(cls, raw: bytes) -> RetryJob:
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise MalformedMessage(f"retry job is not JSON: {exc}") from exc
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
