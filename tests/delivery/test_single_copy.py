"""One copy of the payload in a JSON hook's attempt: the request body is the payload's JSON, so
the record keeps the body and the store reads the payload back from it. What comes back must
be the payload exactly (key order, number types, floats, strings), or the record keeps both."""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tests.conftest import Receiver
from tests.delivery.test_dispatcher import (  # noqa: F401 (the rig_factory fixture)
    ACCOUNT,
    EVENT,
    Rig,
    _hook,
    _rig_factory,
)
from webhooksd.api.catalogue import SAMPLES_DIR, load_samples
from webhooksd.delivery.attempts import attempt_record
from webhooksd.delivery.outcome import Outcome
from webhooksd.delivery.request import build_request
from webhooksd.records import Account, AttemptRecord, Hook, HookDoc
from webhooksd.store._codec import PAYLOAD_IN_BODY, attempt_from_row, attempt_params

_TRAPS = st.sampled_from(['"', ": ", "{}", "[]", "\\", "\x1f", "\n", "é", "\ud800", "\ufffd", "/"])
_TEXT = st.lists(st.one_of(_TRAPS, st.text(max_size=4)), max_size=4).map("".join)
_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0.0, -0.0, 1e21, 1.5e-7, 100.0, 2**63, -(2**63) - 1, 2**64]),
    _TEXT,
)
_JSON: st.SearchStrategy[Any] = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(_TEXT, inner, max_size=4)),
    max_leaves=20,
)


def _exact(left: Any, right: Any) -> bool:
    """Equal, and alike where ``==`` does not look: key order, int vs float, -0.0 vs 0.0."""
    if type(left) is not type(right):
        return False
    if isinstance(left, dict):
        return list(left) == list(right) and all(_exact(left[k], right[k]) for k in left)
    if isinstance(left, list):
        return len(left) == len(right) and all(map(_exact, left, right))
    if isinstance(left, float):
        return left == right and math.copysign(1, left) == math.copysign(1, right)
    return bool(left == right)


def _storable(payload: dict[str, Any]) -> bool:
    try:
        orjson.dumps(payload)
    except TypeError:
        return False
    return True


def _json_hook(**fields: Any) -> Hook:
    return Hook(
        id="h" * 32,
        account_id=ACCOUNT,
        name="n",
        uri="http://r.example/hook",
        hook="channel_create",
        format=fields.pop("format", "json"),
        **fields,
    )


def _record(hook: Hook, payload: dict[str, Any]) -> AttemptRecord:
    return attempt_record(
        hook=hook,
        request=build_request(hook, payload, msg_id="msg_1", timestamp=1),
        outcome=Outcome(kind="success", status=200),
        event_id="e1",
        attempt=1,
        retries_left=2,
        payload=payload,
    )


def _through_codec(record: AttemptRecord) -> AttemptRecord:
    """The record as a store reads it back: its row (text columns, as both drivers take
    them), decoded."""
    return attempt_from_row(attempt_params(record)[:9])


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(_TEXT, _JSON, max_size=6))
@example({"n": 2**64, "f": 1e21, "g": 1.5e-7, "u": "é\u001f/\\"})
@example({"z": -0.0})
@example({"z": [0.0], "c": 0.02, "s": " 0.0"})
@example({"s": "\ud800"})
def test_a_single_copy_reads_back_exactly(payload: dict[str, Any]) -> None:
    """Every payload a JSON hook sends either reads back from its body exactly, or is one of
    the two the record keeps both copies of (a zero float, a lone surrogate)."""
    record = _record(_json_hook(), payload)
    body = str(record.doc["req_body"])
    if not record.payload_in_body:
        assert " 0.0," in body or " 0.0\n" in body or "\ufffd" in body
        if _storable(payload):  # a lone surrogate is not (orjson refuses it), as before
            assert _exact(_through_codec(record).payload, payload)
        return
    read = _through_codec(record)
    assert attempt_params(record)[8] == PAYLOAD_IN_BODY
    assert read.payload_in_body and _exact(read.payload, payload)
    assert read == record


@pytest.mark.parametrize("path", sorted(SAMPLES_DIR.glob("*-samples.json")), ids=lambda p: p.stem)
def test_kazoos_samples_are_one_copy_and_read_back_exactly(path: Path) -> None:
    """Kazoo's sample payloads are single copies (0.02, an MMS's charges, too)."""
    samples = load_samples(path.name.removesuffix("-samples.json"))
    assert samples
    for sample in samples:
        record = _record(_json_hook(), sample)
        assert record.payload_in_body
        read = _through_codec(record)
        assert _exact(read.payload, sample) and read == record


@pytest.mark.parametrize(
    "fields",
    [
        {"format": "form-data"},
        {"http_verb": "get"},
        {"version": "v2"},
        {"doc": {"fields": ["call_id"]}},
        {"doc": {"map": {"call_id": "id"}}},
        {"doc": {"body_template": '{"id": "{{call_id}}"}'}},
    ],
    ids=["form", "get", "v2", "fields", "map", "body_template"],
)
def test_bodies_that_are_not_the_payloads_json_keep_both(fields: dict[str, Any]) -> None:
    payload = {"call_id": "c1", "b": 1.5}
    record = _record(_json_hook(**fields), payload)
    assert not record.payload_in_body
    assert attempt_params(record)[8] != PAYLOAD_IN_BODY
    assert _exact(_through_codec(record).payload, payload)


def test_a_json_hook_with_other_document_keys_is_one_copy() -> None:
    """Keys that do not touch the body (a filter, custom data as stored) keep one copy."""
    hook = _json_hook(doc={"filter": [], "custom_data": {"x": 1}})
    assert _record(hook, {"call_id": "c1"}).payload_in_body


PAYLOAD = {
    "account_id": ACCOUNT,
    "call_id": "x",
    "hook_event": "channel_create",
    "zeta": {"b": 2.5, "a": [1, 1e21, "ü\u001f"]},
    "alpha": 18446744073709551615,
}


async def _replay_body(rig: Rig, receiver: Receiver, original: AttemptRecord) -> bytes:
    before = len(receiver.requests)
    await rig.dispatcher.replay(original)
    [*_, sent] = await receiver.wait_for(before + 1)
    return sent.body


async def test_replay_of_a_single_copy_sends_the_same_bytes(
    rig_factory: Callable[..., Awaitable[Rig]], receiver: Receiver, tmp_path: Path
) -> None:
    """A JSON hook's attempt is stored once (the payload column holds the marker), and its
    replay sends exactly the bytes the original sent; so does a row that holds both copies,
    as every row written before did."""
    rig = await rig_factory()
    await rig.store.create_account(Account(id=ACCOUNT, name="a"))
    doc = {"name": "h", "uri": receiver.url + "/hook", "hook": "channel_create", "format": "json"}
    await rig.store.create_hook(HookDoc(id="h" * 32, account_id=ACCOUNT, doc=doc))
    receiver.status = 404
    await rig.dispatcher.fire(EVENT, PAYLOAD, [_hook(receiver, format="json", retries=0)])
    [first] = await receiver.wait_for(1)
    [original] = await rig.store.list_attempts(ACCOUNT, created_from_ms=0, created_to_ms=2**62)
    with sqlite3.connect(tmp_path / "s.sqlite3") as db:
        sql = "SELECT payload FROM attempts WHERE id = ?"
        stored = db.execute(sql, (original.id,)).fetchall()
    assert stored == [(PAYLOAD_IN_BODY,)]
    assert original.payload_in_body and original.payload is not None
    assert list(original.payload) == [*PAYLOAD, "cluster_id"]
    receiver.status = 200
    assert await _replay_body(rig, receiver, original) == first.body
    # a two-copy row of the same attempt (as written before single copies) replays the same
    old = replace(original, id=original.id + "-old", payload_in_body=False)
    await rig.store.add_attempts([old])
    assert (await rig.store.get_attempt(old.id)) == old
    assert await _replay_body(rig, receiver, old) == first.body
