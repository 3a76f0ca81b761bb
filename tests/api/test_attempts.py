"""Attempts: the time window, order, paging and replays (reference §4)."""

from __future__ import annotations

from webhooksd.kazoo.ids import new_id
from webhooksd.kazoo.timeutil import GREGORIAN_OFFSET, now_ms
from webhooksd.records import AttemptRecord, HookDoc

from .conftest import Api

NOW_MS = now_ms()


def greg(ms: int) -> int:
    return ms // 1000 + GREGORIAN_OFFSET


async def hook(api: Api, account_id: str) -> HookDoc:
    return await api.store.create_hook(
        HookDoc(
            id=new_id(),
            account_id=account_id,
            doc={"name": "n", "uri": "http://example.com/h", "hook": "channel_create"},
        )
    )


async def attempts(
    api: Api,
    stored: HookDoc,
    ages_s: list[int],
    *,
    result: str = "failure",
    event_id: str | None = None,
) -> list[AttemptRecord]:
    made = [
        AttemptRecord(
            id=new_id(),
            account_id=stored.account_id,
            hook_id=stored.id,
            event_id=event_id or new_id()[:10],
            created_ms=NOW_MS - age * 1000,
            result=result,  # type: ignore[arg-type]
            counts_as_failure=result == "failure",
            doc={
                "hook_id": stored.id,
                "result": result,
                "reason": "bad response code",
                "resp_status_code": "500",
                "pvt_secret": "x",
            },
            payload={"call_id": f"c{age}"},
        )
        for age in ages_s
    ]
    await api.store.add_attempts(made)
    return made


async def test_newest_first_with_timestamp_and_id(api: Api, token: str) -> None:
    """Items are newest first, carry Gregorian timestamps and ids, no private keys."""
    stored = await hook(api, api.master.id)
    made = await attempts(api, stored, [30, 10, 20])
    _, body, _ = await api.call(
        "GET", f"/v2/accounts/{api.master.id}/webhooks/attempts", token=token
    )
    assert [item["id"] for item in body["data"]] == [made[1].id, made[2].id, made[0].id]
    first = body["data"][0]
    assert first["timestamp"] == greg(made[1].created_ms)
    assert first["hook_id"] == stored.id
    assert first["resp_status_code"] == "500"
    assert "pvt_secret" not in first


async def test_hook_attempts_and_window(api: Api, token: str) -> None:
    """Per-hook listing keeps to its hook; created_from/created_to bound the window."""
    one, two = await hook(api, api.master.id), await hook(api, api.master.id)
    await attempts(api, one, [100, 5000])
    await attempts(api, two, [100])
    base = f"/v2/accounts/{api.master.id}/webhooks/{one.id}/attempts"
    _, body, _ = await api.call("GET", base, token=token)
    assert len(body["data"]) == 2
    since = greg(NOW_MS) - 1000
    _, body, _ = await api.call("GET", f"{base}?created_from={since}", token=token)
    assert len(body["data"]) == 1
    _, body, _ = await api.call(
        "GET", f"/v2/accounts/{api.master.id}/webhooks/{new_id()}/attempts", token=token
    )
    assert (body["status"], body["data"]) == ("success", [])


async def test_window_older_than_default_is_hidden(api: Api, token: str) -> None:
    """Attempts older than the default window (2,682,000 s) are not listed by default."""
    stored = await hook(api, api.master.id)
    await attempts(api, stored, [10, 2_682_000 + 100])
    _, body, _ = await api.call(
        "GET", f"/v2/accounts/{api.master.id}/webhooks/attempts", token=token
    )
    assert len(body["data"]) == 1


async def test_range_errors(api: Api, token: str) -> None:
    """A reversed or too-wide window gives Kazoo's two date_range errors."""
    path = f"/v2/accounts/{api.master.id}/webhooks/attempts"
    status, body, _ = await api.call("GET", f"{path}?created_from=2&created_to=1", token=token)
    assert status == 400
    assert body["data"] == {
        "created_from": {
            "date_range": {"message": "created_to 1 is prior to created_from 2", "cause": 2}
        }
    }
    status, body, _ = await api.call(
        "GET", f"{path}?created_from=1&created_to=2682002", token=token
    )
    assert status == 400
    assert body["data"] == {
        "created_from": {
            "date_range": {
                "message": "created_to 2682002 is more than 2682000 seconds from created_from 1",
                "cause": 2682002,
            }
        }
    }


async def test_paging_and_filters(api: Api, token: str) -> None:
    """Pages chain through next_start_key; filters apply to the attempt doc."""
    stored = await hook(api, api.master.id)
    made = await attempts(api, stored, list(range(1, 8)))
    await attempts(api, stored, [50], result="success")
    path = f"/v2/accounts/{api.master.id}/webhooks/{stored.id}/attempts"
    seen: list[str] = []
    query = "?page_size=3&filter_result=failure"
    while True:
        _, page, _ = await api.call("GET", f"{path}{query}", token=token)
        assert len(page["data"]) <= 3
        seen += [item["id"] for item in page["data"]]
        if "next_start_key" not in page:
            break
        query = f"?page_size=3&filter_result=failure&start_key={page['next_start_key']}"
    assert seen == [a.id for a in made]
    _, body, _ = await api.call("GET", f"{path}?paginate=false", token=token)
    assert len(body["data"]) == 8
    assert "next_start_key" not in body


async def test_replay_one_attempt(api: Api, token: str) -> None:
    """Replaying an attempt hands it to the tester and answers the new attempt."""
    stored = await hook(api, api.master.id)
    (made,) = await attempts(api, stored, [5])
    status, body, _ = await api.call(
        "POST", f"/v2/accounts/{api.master.id}/webhooks/attempts/{made.id}/replay", token=token
    )
    assert status == 200
    assert [a.id for a in api.tester.replayed] == [made.id]
    assert body["data"]["hook_id"] == stored.id
    assert body["data"]["id"] != made.id


async def test_replay_refuses_other_account(api: Api, token: str) -> None:
    """An attempt of another account is 404 for replay."""
    other, _ = await api.sub_account("other")
    stored = await hook(api, other.id)
    (made,) = await attempts(api, stored, [5])
    status, body, _ = await api.call(
        "POST", f"/v2/accounts/{api.master.id}/webhooks/attempts/{made.id}/replay", token=token
    )
    assert (status, body["message"]) == (404, "bad_identifier")
    assert api.tester.replayed == []


async def test_replay_failed_events_of_hook(api: Api, token: str) -> None:
    """Hook replay sends each failed event once (newest try), skipping later successes."""
    stored = await hook(api, api.master.id)
    await attempts(api, stored, [30], event_id="e1")
    (newest_e1,) = await attempts(api, stored, [20], event_id="e1")
    await attempts(api, stored, [25], event_id="e2")
    await attempts(api, stored, [15], event_id="e2", result="success")
    (e3,) = await attempts(api, stored, [10], event_id="e3")
    status, body, _ = await api.call(
        "POST", f"/v2/accounts/{api.master.id}/webhooks/{stored.id}/replay", token=token
    )
    assert status == 200
    assert [a.id for a in api.tester.replayed] == [newest_e1.id, e3.id]
    assert (body["data"]["sent"], len(body["data"]["attempts"])) == (2, 2)
