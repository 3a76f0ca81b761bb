"""Bulk resend after an outage (``POST …/webhooks/{ID}/replay`` and ``…/webhooks/replay``):
dry-run counts, each failed event once, later successes and earlier resends skipped, only
enabled hooks of the URL's account, and the per-request cap."""

from __future__ import annotations

from typing import Any

import pytest

from webhooksd.api.recovery import MAX_EVENTS
from webhooksd.errors import StoreError
from webhooksd.kazoo.ids import new_id
from webhooksd.kazoo.timeutil import now_gregorian
from webhooksd.records import AttemptRecord, HookDoc

from .conftest import Api
from .test_attempts import NOW_MS, attempts, greg, hook


def window(**extra: Any) -> dict[str, Any]:
    """From an hour ago until 5 s ago: the attempts the tests make (10 to 30 s old)."""
    return {"created_from": greg(NOW_MS) - 3600, "created_to": greg(NOW_MS) - 5, **extra}


async def resend(api: Api, token: str, path: str, **data: Any) -> tuple[int, dict[str, Any]]:
    status, body, _ = await api.call("POST", path, token=token, data=window(**data))
    return status, body


async def test_dry_run_counts_and_sends_nothing(api: Api, token: str) -> None:
    """A dry run counts the failed events per hook; nothing is replayed."""
    stored = await hook(api, api.master.id)
    await attempts(api, stored, [30], event_id="e1")
    await attempts(api, stored, [20], event_id="e1")
    await attempts(api, stored, [25], event_id="e2")
    path = f"/v2/accounts/{api.master.id}/webhooks/{stored.id}/replay"
    status, body = await resend(api, token, path, dry_run=True)
    assert status == 200, body
    assert body["data"] == {
        **window(),
        "dry_run": True,
        "count": 2,
        "total": 2,
        "truncated": False,
        "limit": MAX_EVENTS,
        "hooks": {stored.id: 2},
    }
    assert api.tester.replayed == []
    # the query string says it too
    status, body, _ = await api.call("POST", f"{path}?dry_run=true", token=token, data=window())
    assert (status, body["data"]["count"], api.tester.replayed) == (200, 2, [])


async def test_resending_twice_sends_once(api: Api, token: str) -> None:
    """An event resent successfully is not resent by the same request made again: its
    success is newer than the window, and counts all the same."""
    stored = await hook(api, api.master.id)
    (failed,) = await attempts(api, stored, [20], event_id="e1")
    path = f"/v2/accounts/{api.master.id}/webhooks/{stored.id}/replay"
    status, body = await resend(api, token, path)
    assert status == 200, body
    assert (body["data"]["sent"], body["data"]["succeeded"], body["data"]["failed"]) == (1, 1, 0)
    assert [a.id for a in api.tester.replayed] == [failed.id]
    status, body = await resend(api, token, path)
    assert (status, body["data"]["count"], body["data"]["sent"]) == (200, 0, 0)
    assert len(api.tester.replayed) == 1


async def test_skips_tests_pending_retries_and_lost_payloads(api: Api, token: str) -> None:
    """Failed test events, events whose retry is still due and attempts without payload
    are not resent."""
    stored = await hook(api, api.master.id)
    base = {"hook_id": stored.id, "result": "failure"}
    docs: dict[str, dict[str, Any]] = {
        "test": {**base, "req_headers": {"webhook-id": "msg_test_abc"}},
        "pending": {**base, "retry_due": now_gregorian() + 600},
        "due_passed": {**base, "retry_due": now_gregorian() - 600},
        "no_payload": base,
        "plain": {**base, "req_headers": {"webhook-id": "msg_1"}},
    }
    await api.store.add_attempts(
        [
            AttemptRecord(
                id=new_id(),
                account_id=api.master.id,
                hook_id=stored.id,
                event_id=name,
                created_ms=NOW_MS - 20_000,
                result="failure",
                counts_as_failure=True,
                doc=doc,
                payload=None if name == "no_payload" else {"n": name},
            )
            for name, doc in docs.items()
        ]
    )
    path = f"/v2/accounts/{api.master.id}/webhooks/{stored.id}/replay"
    status, body = await resend(api, token, path)
    assert status == 200, body
    assert sorted(a.event_id for a in api.tester.replayed) == ["due_passed", "plain"]


async def test_account_resend_enabled_hooks_of_the_account_only(api: Api, token: str) -> None:
    """The account route resends the failures of the account's enabled hooks, counted per
    hook; a disabled hook's, a sub-account's and another account's are left alone."""
    one, two = await hook(api, api.master.id), await hook(api, api.master.id)
    off = await api.store.create_hook(
        HookDoc(
            id=new_id(),
            account_id=api.master.id,
            doc={"name": "off", "uri": "http://example.com/h", "hook": "all", "enabled": False},
            disabled_reason="too many failures",
        )
    )
    sub, _ = await api.sub_account("sub")
    theirs = await hook(api, sub.id)
    for stored in (one, two, two, off, theirs):
        await attempts(api, stored, [20])
    path = f"/v2/accounts/{api.master.id}/webhooks/replay"
    status, body = await resend(api, token, path, dry_run="true")
    assert status == 200, body
    assert body["data"]["hooks"] == {one.id: 1, two.id: 2}
    assert body["data"]["count"] == 3
    status, body = await resend(api, token, path)
    assert (status, body["data"]["sent"]) == (200, 3)
    assert {a.hook_id for a in api.tester.replayed} == {one.id, two.id}
    assert {a["hook_id"] for a in body["data"]["attempts"]} == {one.id, two.id}


async def test_sub_account_token_cannot_resend_parent(api: Api) -> None:
    """A sub-account's token may not resend its parent's failures."""
    stored = await hook(api, api.master.id)
    await attempts(api, stored, [20])
    _, key = await api.sub_account("sub")
    assert key is not None
    sub_token = await api.token(key)
    for path in ("/webhooks/replay", f"/webhooks/{stored.id}/replay"):
        status, _ = await resend(api, sub_token, f"/v2/accounts/{api.master.id}{path}")
        assert status == 403
    assert api.tester.replayed == []


async def test_hook_route_refuses_disabled_and_foreign_hooks(api: Api, token: str) -> None:
    """A disabled hook is a 400 naming it; another account's hook is 404."""
    off = await api.store.create_hook(
        HookDoc(
            id=new_id(),
            account_id=api.master.id,
            doc={"name": "off", "uri": "http://example.com/h", "hook": "all", "enabled": False},
        )
    )
    await attempts(api, off, [20])
    status, body = await resend(
        api, token, f"/v2/accounts/{api.master.id}/webhooks/{off.id}/replay"
    )
    assert status == 400
    assert body["data"]["hook_id"]["disabled"]["cause"] == off.id
    other, _ = await api.sub_account("other")
    theirs = await hook(api, other.id)
    await attempts(api, theirs, [20])
    status, body = await resend(
        api, token, f"/v2/accounts/{api.master.id}/webhooks/{theirs.id}/replay"
    )
    assert (status, body["message"]) == (404, "bad_identifier")
    assert api.tester.replayed == []


async def test_bad_dry_run_and_window(api: Api, token: str) -> None:
    """A dry_run that is not a boolean and a reversed window are 400s naming the field."""
    path = f"/v2/accounts/{api.master.id}/webhooks/replay"
    status, body = await resend(api, token, path, dry_run="maybe")
    assert status == 400
    assert body["data"]["dry_run"]["type"]["target"] == "boolean"
    status, body = await resend(api, token, path, created_from=10, created_to=5)
    assert status == 400
    assert "date_range" in body["data"]["created_from"]


async def test_capped_per_request(api: Api, token: str) -> None:
    """More failed events than the cap: the oldest MAX_EVENTS are counted, and truncated
    says more remain."""
    stored = await hook(api, api.master.id)
    made = await attempts(api, stored, [20 + n for n in range(MAX_EVENTS + 1)])
    path = f"/v2/accounts/{api.master.id}/webhooks/replay"
    status, body = await resend(api, token, path, dry_run=True)
    assert status == 200, body
    data = body["data"]
    assert (data["count"], data["total"], data["truncated"]) == (MAX_EVENTS, MAX_EVENTS + 1, True)
    # the newest one (20 s old) is the one left for the next request
    status, body = await resend(api, token, path)
    assert body["data"]["sent"] == MAX_EVENTS
    assert made[0].id not in {a.id for a in api.tester.replayed}
    status, body = await resend(api, token, path)
    assert [a.id for a in api.tester.replayed[MAX_EVENTS:]] == [made[0].id]


async def test_a_store_fault_while_resending_is_a_503(
    api: Api, token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A resend failing on the store answers 503 ``datastore_fault``, as one replay would
    (resends run in a task group, whose ExceptionGroup was a 500)."""
    stored = await hook(api, api.master.id)
    await attempts(api, stored, [20, 21])

    async def broken(attempt: AttemptRecord) -> AttemptRecord:
        raise StoreError("the database went away")

    monkeypatch.setattr(api.tester, "replay", broken)
    status, body = await resend(api, token, f"/v2/accounts/{api.master.id}/webhooks/replay")
    assert (status, body["message"]) == (503, "datastore_fault")
