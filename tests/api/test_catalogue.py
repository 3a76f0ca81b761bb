"""The hook-type catalogue and Kazoo's sample payloads (reference §3.1-3.3)."""

from __future__ import annotations

from .conftest import Api

STOCK_ORDER = [
    "sms",
    "object",
    "notifications",
    "mms",
    "channel_destroy",
    "channel_create",
    "channel_bridge",
    "channel_answer",
    "parking",
]
SAMPLE_NAMES = [
    "webhooks_cdr",
    "webhooks_channel_answer",
    "webhooks_channel_bridge",
    "webhooks_channel_create",
    "webhooks_channel_destroy",
    "webhooks_channel_hold",
    "webhooks_channel_unhold",
    "webhooks_mms",
    "webhooks_notifications",
    "webhooks_object",
    "webhooks_parking",
    "webhooks_sms",
]


async def test_catalogue_order_and_shape(api: Api) -> None:
    """Anonymous GET /v2/webhooks lists the nine types by name descending, page_size 9."""
    status, body, _ = await api.call("GET", "/v2/webhooks")
    assert status == 200
    assert [item["id"] for item in body["data"]] == STOCK_ORDER
    assert body["page_size"] == 9
    assert "start_key" not in body
    assert body["data"][0] == {
        "id": "sms",
        "name": "SMS",
        "description": "Receive notifications when sms is received",
    }
    _, body, _ = await api.call("GET", "/v2/webhooks?ascending=true")
    assert [item["id"] for item in body["data"]] == STOCK_ORDER[::-1]


async def test_super_only_notifications(api: Api, token: str) -> None:
    """system_alert/webhook_disabled are hidden from everyone but the master account."""

    def types(body: dict[str, object]) -> set[str]:
        (item,) = [i for i in body["data"] if i["id"] == "notifications"]  # type: ignore[attr-defined]
        return set(item["modifiers"]["type"]["items"])

    _, anonymous, _ = await api.call("GET", "/v2/webhooks")
    _, master, _ = await api.call("GET", "/v2/webhooks", token=token)
    assert "missed_call" in types(anonymous)
    assert "system_alert" not in types(anonymous)
    assert "webhook_disabled" not in types(anonymous)
    assert {"system_alert", "webhook_disabled"} <= types(master)


async def test_sample_names_and_filter(api: Api, token: str) -> None:
    """Sample names are the sorted file names; filter_* narrows a sample set."""
    status, body, _ = await api.call("GET", "/v2/webhooks/samples")
    assert (status, body["data"]) == (200, SAMPLE_NAMES)
    assert "page_size" not in body
    _, body, _ = await api.call("GET", "/v2/webhooks/samples/webhooks_object")
    assert body["page_size"] == len(body["data"]) == 3
    _, body, _ = await api.call(
        "GET", "/v2/webhooks/samples/webhooks_object?filter_action=doc_created"
    )
    assert [item["action"] for item in body["data"]] == ["doc_created"]
    _, body, _ = await api.call(
        "GET", f"/v2/accounts/{api.master.id}/webhooks/samples/webhooks_parking", token=token
    )
    assert body["page_size"] == 1
