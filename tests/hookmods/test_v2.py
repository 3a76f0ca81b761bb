"""The ``v2`` envelopes the modules hand the daemon (Kazoo 5's ``format_v2_event`` of each
module): the name Kazoo 5 gives each event type and the sanitized message as ``data``.

Modules that pass no envelope (parking, SMS, MMS, notifications) get the daemon's default,
the message's ``Event-Name`` (tests/delivery/test_dispatcher.py)."""

from __future__ import annotations

from typing import Any

import pytest

from webhooksd_hooks import cdr, channel_create, channel_destroy, channel_hold, channel_unhold
from webhooksd_hooks import object as object_hook

from .helpers import (
    ACCOUNT,
    RecordingContext,
    call_event,
    call_event_of,
    doc_update,
    encoded_db,
    event,
    hook,
)


def _normalized(value: Any) -> Any:
    if isinstance(value, dict):
        return {k.lower().replace("-", "_"): _normalized(v) for k, v in value.items()}
    return value


ENVELOPE_KEYS = {"Event-Category", "Event-Name", "App-Name", "App-Version", "Msg-ID", "Node"}


@pytest.mark.parametrize(
    ("module", "event_name", "v2_name"),
    [
        (channel_create, "CHANNEL_CREATE", "CHANNEL_CREATE"),
        (channel_hold, "CHANNEL_HOLD", "CHANNEL_HOLD"),
        (channel_unhold, "CHANNEL_UNHOLD", "CHANNEL_UNHOLD"),
        # Kazoo 5's hook_event_name/1 reads a disconnect as the destroy it stands for
        (channel_destroy, "CHANNEL_DISCONNECTED", "CHANNEL_DESTROY"),
    ],
)
async def test_channel_envelopes(
    ctx: RecordingContext, module: Any, event_name: str, v2_name: str
) -> None:
    hook_event = module.METADATA.id
    ctx.table.put(hook("h", ACCOUNT, hook_event, version="v2"))
    body = call_event(event_name, Password="hunter2")
    await module.handle_event(call_event_of(body), ctx)
    fired = ctx.only()
    assert fired.v2 is not None
    expected = {k: v for k, v in body.items() if k not in ENVELOPE_KEYS | {"Password"}}
    assert fired.v2 == {"action": "event", "name": v2_name, "data": _normalized(expected)}


async def test_cdr_envelope_is_named_by_the_category(ctx: RecordingContext) -> None:
    ctx.table.put(hook("h", ACCOUNT, "cdr", version="v2"))
    body = {
        **call_event("report"),
        "Event-Category": "cdr",
        "Account-ID": ACCOUNT,
    }
    await cdr.handle_event(event("cdr", "cdr.report.a.b", body), ctx)
    fired = ctx.only()
    assert fired.v2 is not None and fired.v2["name"] == "cdr"
    assert fired.v2["data"]["account_id"] == ACCOUNT and "event_name" not in fired.v2["data"]


@pytest.mark.parametrize(("action", "deleted"), [("doc_edited", False), ("doc_deleted", True)])
async def test_object_envelope_has_the_metadata(
    ctx: RecordingContext, action: str, deleted: bool
) -> None:
    ctx.table.put(hook("h", ACCOUNT, "object", version="v2"))
    message = doc_update(
        action,
        encoded_db(ACCOUNT),
        "user",
        "u1",
        **{"Date-Created": 63724349409, "Date-Modified": 63724349410},
    )
    await object_hook.handle_event(message, ctx)
    fired = ctx.only()
    assert fired.v2 is not None
    assert fired.v2["name"] == action
    data = fired.v2["data"]
    assert data["id"] == "u1" and data["type"] == "user" and "origin_cache" not in data
    metadata = {"id": "u1", "created": 63724349409, "modified": 63724349410}
    assert data["metadata"] == ({**metadata, "deleted": True} if deleted else metadata)
