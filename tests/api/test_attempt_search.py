"""The request log's search (call_id, event_id, hook_id, status, result) and one event's
timeline: each filter, their bounds, paging, and account scoping."""

from __future__ import annotations

from typing import Any

import pytest

from webhooksd.kazoo.ids import new_id
from webhooksd.kazoo.timeutil import GREGORIAN_OFFSET, now_ms
from webhooksd.records import AttemptRecord, HookDoc

from .conftest import Api

NOW_MS = now_ms()


async def hook(api: Api, account_id: str, name: str = "n") -> HookDoc:
    return await api.store.create_hook(
        HookDoc(
            id=new_id(),
            account_id=account_id,
            doc={"name": name, "uri": "http://example.com/h", "hook": "channel_create"},
        )
    )


def record(
    stored: HookDoc,
    age_s: int,
    *,
    event_id: str,
    call_id: str | None = None,
    status: str | None = None,
    attempt: int = 1,
    msg_id: str = "msg_event",
) -> AttemptRecord:
    failed = status is None or not status.startswith("2")
    doc: dict[str, Any] = {
        "hook_id": stored.id,
        "event_id": event_id,
        "result": "failure" if failed else "success",
        "try": attempt,
        "req_headers": {"webhook-id": msg_id},
        "uri": "http://example.com/h",
    }
    if call_id is not None:
        doc["call_id"] = call_id
    if status is not None:
        doc["resp_status_code"] = status
    else:
        doc["client_error"] = "failed_connect: econnrefused"
    return AttemptRecord(
        id=new_id(),
        account_id=stored.account_id,
        hook_id=stored.id,
        event_id=event_id,
        created_ms=NOW_MS - age_s * 1000,
        result=doc["result"],
        counts_as_failure=failed,
        doc=doc,
        payload={"call_id": call_id} if call_id else {},
    )


@pytest.fixture(name="log")
async def fixture_log(api: Api) -> dict[str, Any]:
    """Two hooks of the master account with one call's event retried, then replayed, and
    other events; a sub-account with an attempt of the same call and event id."""
    one, two = await hook(api, api.master.id, "one"), await hook(api, api.master.id, "two")
    rows = {
        "first": record(one, 50, event_id="e1", call_id="call-1", status="503"),
        "other_hook": record(two, 49, event_id="e1", call_id="call-1", status="200"),
        "retry": record(one, 40, event_id="e1", call_id="call-1", status="500", attempt=2),
        "last": record(one, 30, event_id="e1", call_id="call-1", status="200", attempt=3),
        "replay": record(
            one, 20, event_id="e1", call_id="call-1", status="200", msg_id="msg_replay_x"
        ),
        "refused": record(two, 10, event_id="e2", call_id="call-2"),
        "not_found": record(two, 5, event_id="e3", status="404"),
        "test": record(one, 3, event_id="t1", status="200", msg_id="msg_test_t1"),
    }
    child, child_key = await api.sub_account("child")
    theirs = await hook(api, child.id)
    rows["child"] = record(theirs, 45, event_id="e1", call_id="call-1", status="503")
    await api.store.add_attempts(list(rows.values()))
    return {"rows": rows, "one": one, "two": two, "child": child, "child_key": child_key}


def ids(log: dict[str, Any], *names: str) -> list[str]:
    return [log["rows"][name].id for name in names]


async def listed(api: Api, token: str, query: str, account_id: str | None = None) -> list[str]:
    path = f"/v2/accounts/{account_id or api.master.id}/webhooks/attempts?{query}"
    status, body, _ = await api.call("GET", path, token=token)
    assert status == 200, body
    return [item["id"] for item in body["data"]]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("call_id=call-1", ["replay", "last", "retry", "other_hook", "first"]),
        ("call_id=call-2", ["refused"]),
        ("event_id=e1&result=failure", ["retry", "first"]),
        ("status=503", ["first"]),
        ("status=5xx", ["retry", "first"]),
        ("status=404", ["not_found"]),
        ("result=failure", ["not_found", "refused", "retry", "first"]),
        ("result=FAILURE&call_id=call-1", ["retry", "first"]),
        ("call_id=nothing", []),
        ("event_id=e1&status=2xx&filter_try=3", ["last"]),
    ],
)
async def test_each_filter(
    api: Api, token: str, log: dict[str, Any], query: str, expected: list[str]
) -> None:
    """Each filter narrows the account's log (newest first); they combine with each other
    and with Crossbar's filter_*; the sub-account's attempt of the same call never shows."""
    assert await listed(api, token, query) == ids(log, *expected)


async def test_hook_filter_on_account_and_hook_listings(
    api: Api, token: str, log: dict[str, Any]
) -> None:
    """hook_id on the account's log is one hook's attempts; the search applies on a hook's."""
    two = log["two"].id
    assert await listed(api, token, f"hook_id={two}") == ids(
        log, "not_found", "refused", "other_hook"
    )
    path = f"/v2/accounts/{api.master.id}/webhooks/{two}/attempts?result=failure"
    _, body, _ = await api.call("GET", path, token=token)
    assert [item["id"] for item in body["data"]] == ids(log, "not_found", "refused")


async def test_items_say_their_kind_and_call(api: Api, token: str, log: dict[str, Any]) -> None:
    """Items carry kind (first, retry, replay, test) and the call id."""
    path = f"/v2/accounts/{api.master.id}/webhooks/attempts?paginate=false"
    _, body, _ = await api.call("GET", path, token=token)
    kinds = {item["id"]: item["kind"] for item in body["data"]}
    rows = log["rows"]
    assert [kinds[rows[n].id] for n in ("first", "retry", "replay", "test")] == [
        "first",
        "retry",
        "replay",
        "test",
    ]
    calls = {item["id"]: item.get("call_id") for item in body["data"]}
    assert calls[rows["first"].id] == "call-1"
    assert calls[rows["not_found"].id] is None


async def test_search_pages(api: Api, token: str, log: dict[str, Any]) -> None:
    """A search's pages chain through next_start_key, each match once, in order."""
    seen: list[str] = []
    query = "call_id=call-1&page_size=2"
    for _ in range(10):
        path = f"/v2/accounts/{api.master.id}/webhooks/attempts?{query}"
        _, body, _ = await api.call("GET", path, token=token)
        assert len(body["data"]) <= 2
        seen += [item["id"] for item in body["data"]]
        if "next_start_key" not in body:
            break
        query = f"call_id=call-1&page_size=2&start_key={body['next_start_key']}"
    assert seen == ids(log, "replay", "last", "retry", "other_hook", "first")


async def test_scoped_to_the_account(api: Api, log: dict[str, Any]) -> None:
    """The sub-account finds only its own attempt of the call; it cannot read its parent's
    log or timeline."""
    child_token = await api.token(log["child_key"])
    child = log["child"].id
    assert await listed(api, child_token, "call_id=call-1", child) == ids(log, "child")
    path = f"/v2/accounts/{api.master.id}/webhooks/attempts?call_id=call-1"
    status, _, _ = await api.call("GET", path, token=child_token)
    assert status == 403
    path = f"/v2/accounts/{api.master.id}/webhooks/events/e1/timeline"
    status, _, _ = await api.call("GET", path, token=child_token)
    assert status == 403
    _, body, _ = await api.call(
        "GET", f"/v2/accounts/{child}/webhooks/events/e1/timeline", token=child_token
    )
    assert [a["id"] for h in body["data"]["hooks"] for a in h["attempts"]] == ids(log, "child")


@pytest.mark.parametrize(
    ("query", "field", "rule"),
    [
        ("status=600", "status", "pattern"),
        ("status=50", "status", "pattern"),
        ("status=5x", "status", "pattern"),
        ("status=abc", "status", "pattern"),
        ("result=maybe", "result", "enum"),
        ("call_id=" + "c" * 257, "call_id", "maxLength"),
        ("call_id=a%20b", "call_id", "pattern"),
        ("event_id=" + "e" * 129, "event_id", "maxLength"),
        ("event_id=%00", "event_id", "pattern"),
        ("hook_id=%C3%A9", "hook_id", "pattern"),
        ("created_from=soon", "created_from", "type"),
    ],
)
async def test_bad_values_name_the_field(
    api: Api, token: str, query: str, field: str, rule: str
) -> None:
    """Every bad or oversized value is a 400 validation error naming its parameter."""
    path = f"/v2/accounts/{api.master.id}/webhooks/attempts?{query}"
    status, body, _ = await api.call("GET", path, token=token)
    assert (status, body["message"]) == (400, "validation error"), body
    assert list(body["data"]) == [field]
    assert rule in body["data"][field]
    assert len(body["data"][field][rule]["cause"]) <= 64


async def test_timeline_groups_per_hook_in_order(api: Api, token: str, log: dict[str, Any]) -> None:
    """The timeline lists the event's attempts per hook (hooks in the order of their first
    attempt), oldest first, each with its kind, try, status and cause."""
    path = f"/v2/accounts/{api.master.id}/webhooks/events/e1/timeline"
    status, body, _ = await api.call("GET", path, token=token)
    assert status == 200, body
    data = body["data"]
    assert (data["event_id"], data["call_id"], data["attempts"]) == ("e1", "call-1", 5)
    assert data["truncated"] is False
    one, two = data["hooks"]
    assert (one["hook_id"], one["name"], two["name"]) == (log["one"].id, "one", "two")
    assert [a["id"] for a in one["attempts"]] == ids(log, "first", "retry", "last", "replay")
    assert [(a["kind"], a["try"]) for a in one["attempts"]] == [
        ("first", 1),
        ("retry", 2),
        ("retry", 3),
        ("replay", 1),
    ]
    assert one["attempts"][0]["cause"] == "HTTP 503"
    assert [a["id"] for a in two["attempts"]] == ids(log, "other_hook")
    assert one["attempts"][0]["timestamp"] == (NOW_MS - 50_000) // 1000 + GREGORIAN_OFFSET


async def test_timeline_of_a_deleted_hook_and_an_unknown_event(
    api: Api, token: str, log: dict[str, Any]
) -> None:
    """A deleted hook's attempts still show, marked deleted; an unknown event has none; a
    bad event id is a 400."""
    await api.store.delete_hook(log["two"].id)
    base = f"/v2/accounts/{api.master.id}/webhooks/events"
    _, body, _ = await api.call("GET", f"{base}/e2/timeline", token=token)
    (group,) = body["data"]["hooks"]
    assert (group["name"], group["deleted"]) == (None, True)
    _, body, _ = await api.call("GET", f"{base}/nothing/timeline", token=token)
    assert (body["data"]["hooks"], body["data"]["attempts"]) == ([], 0)
    status, body, _ = await api.call("GET", f"{base}/{'e' * 129}/timeline", token=token)
    assert (status, list(body["data"])) == (400, ["event_id"])
