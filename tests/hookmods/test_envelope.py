"""Kazoo's validators (``kz_api:validate/4`` behind ``kapi_call:event_v``, ``kapi_im:inbound_v``,
``kapi_conf:doc_update_v`` and the notifications' definitions) refuse a message lacking one of
``?DEFAULT_HEADERS``; so does webhooksd, with :class:`MalformedMessage` (dead-lettered)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from webhooksd.errors import MalformedMessage
from webhooksd.hooks import ENVELOPE_KEYS, Event, HookContext
from webhooksd_hooks import notifications, parking, sms
from webhooksd_hooks import object as object_hook

from .helpers import (
    ACCOUNT,
    NOTIFY_ACCOUNT,
    OBJECT_ACCOUNT,
    PARK_ACCOUNT,
    RecordingContext,
    doc_update,
    event,
    hook,
)
from .test_im import inbound
from .test_notifications import notification, voicemail_new
from .test_parking import park_event

Handler = Callable[[Event, HookContext], Awaitable[None]]


def _parking() -> tuple[Event, Handler, str]:
    return park_event(), parking.handle_event, PARK_ACCOUNT


def _sms() -> tuple[Event, Handler, str]:
    return inbound("sms"), sms.handle_event, ACCOUNT


def _object() -> tuple[Event, Handler, str]:
    message = doc_update("doc_edited", "accounts", "account", OBJECT_ACCOUNT)
    return message, object_hook.handle_event, OBJECT_ACCOUNT


def _notification() -> tuple[Event, Handler, str]:
    return notification(voicemail_new()), notifications.handle_event, NOTIFY_ACCOUNT


MESSAGES = {"parking": _parking, "sms": _sms, "object": _object, "notifications": _notification}


def _without(message: Event, *keys: str, **values: Any) -> Event:
    body = {k: v for k, v in message.body.items() if k not in keys} | values
    return event(message.exchange, message.routing_key, body)


@pytest.mark.parametrize("kind", MESSAGES)
async def test_complete_envelope_fires(ctx: RecordingContext, kind: str) -> None:
    message, handle, account = MESSAGES[kind]()
    assert all(key in message.body for key in ENVELOPE_KEYS)
    ctx.table.put(hook("h", account, "all"))
    await handle(message, ctx)
    assert ctx.only().hook_ids == {"h"}


@pytest.mark.parametrize("key", ["App-Name", "App-Version", "Msg-ID"])
@pytest.mark.parametrize("kind", MESSAGES)
async def test_missing_envelope_header_is_malformed(
    ctx: RecordingContext, kind: str, key: str
) -> None:
    message, handle, account = MESSAGES[kind]()
    ctx.table.put(hook("h", account, "all"))
    with pytest.raises(MalformedMessage, match=f"missing envelope header\\(s\\) {key}$"):
        await handle(_without(message, key), ctx)
    assert ctx.fired == []


@pytest.mark.parametrize("kind", MESSAGES)
async def test_null_or_empty_envelope_values_count_as_present(
    ctx: RecordingContext, kind: str
) -> None:
    """``props:is_defined``: only a missing key fails, as in Kazoo."""
    message, handle, account = MESSAGES[kind]()
    ctx.table.put(hook("h", account, "all"))
    await handle(_without(message, **{"App-Name": None, "Msg-ID": ""}), ctx)
    assert ctx.only().hook_ids == {"h"}


async def test_several_missing_are_all_named(ctx: RecordingContext) -> None:
    message, handle, _ = _sms()
    with pytest.raises(MalformedMessage, match=r"App-Name, App-Version, Msg-ID$"):
        await handle(_without(message, "App-Name", "App-Version", "Msg-ID"), ctx)
