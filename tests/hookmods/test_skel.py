"""The ``skel`` template works as documented and is not registered."""

from __future__ import annotations

from importlib.metadata import entry_points

from webhooksd.hooks.contract import ENTRY_POINT_GROUP, validate
from webhooksd_hooks import skel

from .helpers import ACCOUNT, RESELLER, SUB, RecordingContext, call_event, call_event_of, hook


def test_skel_satisfies_the_contract_but_is_not_registered() -> None:
    """The template passes validation and no entry point loads it."""
    assert validate("skel", skel) is skel
    assert "skel" not in {ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)}


def test_docstring_explains_registration() -> None:
    """The docstring tells a plugin author how to register in the entry-point group."""
    doc = skel.__doc__ or ""
    assert '[project.entry-points."webhooksd.hooks"]' in doc
    assert "webhooksd.hooks =" in doc
    assert "METADATA.id" in doc


async def test_skel_fires_hold_events(ctx: RecordingContext) -> None:
    """A hold event fires the account's skel and `all` hooks and ancestors' sub-account hooks."""
    ctx.table.put(hook("own", SUB, "skel"))
    ctx.table.put(hook("reseller", RESELLER, "skel", include_subaccounts=True))
    ctx.table.put(hook("parent-own", ACCOUNT, "skel"))
    body = call_event("CHANNEL_HOLD", **{"Custom-Channel-Vars": {"Account-ID": SUB}})
    await skel.handle_event(call_event_of(body), ctx)
    fired = ctx.only()
    assert fired.hook_ids == {"own", "reseller"}
    assert fired.payload == {
        "account_id": SUB,
        "call_id": body["Call-ID"],
        "event_name": "CHANNEL_HOLD",
        "timestamp": 63724349409,
    }


async def test_skel_ignores_events_without_account(ctx: RecordingContext) -> None:
    """Without a CCV Account-ID nothing fires."""
    ctx.table.put(hook("own", ACCOUNT, "all"))
    await skel.handle_event(call_event_of({"Event-Name": "CHANNEL_HOLD", "Call-ID": "c"}), ctx)
    assert ctx.fired == []


async def test_init_writes_metadata(ctx: RecordingContext) -> None:
    """init stores the template's metadata."""
    await skel.init(ctx)
    assert [m.id for m in ctx.metadata] == ["skel"]
