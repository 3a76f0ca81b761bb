"""Health, readiness, metrics, the UI mount, the test-fire endpoint and manual publishing."""

from __future__ import annotations

import asyncio

import orjson

from webhooksd.api.app import STATIC_DIR
from webhooksd.api.webhooks import test_payload as payload_for_test
from webhooksd.bus import Delivery, QueueSpec

from .conftest import Api

HOOK = {"name": "n", "uri": "http://127.0.0.1:9/h", "hook": "channel_create"}


async def test_healthz_and_readyz(api: Api) -> None:
    """healthz is always 200; readyz is 503 while any check fails and lists the checks."""
    resp = await api.client.get("/healthz")
    assert resp.status == 200
    resp = await api.client.get("/readyz")
    assert resp.status == 200
    api.readiness["bus"] = False
    resp = await api.client.get("/readyz")
    assert resp.status == 503
    assert (await resp.json())["checks"] == {"store": True, "bus": False}


async def test_metrics(api: Api) -> None:
    """/metrics serves the registry in Prometheus text format."""
    resp = await api.client.get("/metrics")
    assert resp.status == 200
    assert resp.content_type == "text/plain"
    assert "webhooksd_deliveries_total" in await resp.text()


async def test_ui_root(api: Api) -> None:
    """/ serves the UI's index.html, or says that the UI is not installed."""
    resp = await api.client.get("/")
    assert resp.status == 200
    if (STATIC_DIR / "index.html").is_file():
        assert resp.content_type == "text/html"
    else:
        assert "not installed" in await resp.text()


async def test_ui_modules_are_served_as_javascript_and_revalidated(api: Api) -> None:
    """Every file of the UI, its ES modules in js/ too, is served, as JavaScript where it is
    one, and with ``no-cache``: modules that import one another must not mix two releases."""
    modules = sorted((STATIC_DIR / "js").glob("*.js"))
    assert modules, "the UI ships its modules in js/"
    for module in modules:
        resp = await api.client.get(f"/js/{module.name}")
        assert resp.status == 200, module.name
        assert resp.content_type in ("application/javascript", "text/javascript")
        assert resp.headers["Cache-Control"] == "no-cache"
    resp = await api.client.get("/")
    assert resp.headers["Cache-Control"] == "no-cache"
    resp = await api.client.get("/js/nothing.js")
    assert resp.status == 404


async def test_test_fire(api: Api, token: str) -> None:
    """POST …/test sends the hook type's payload for the account and answers the attempt."""
    base = f"/v2/accounts/{api.master.id}/webhooks"
    _, body, _ = await api.call("PUT", base, token=token, data={**HOOK, "hook": "sms"})
    status, answer, _ = await api.call("POST", f"{base}/{body['data']['id']}/test", token=token)
    assert status == 200
    ((hook, payload),) = api.tester.sent
    assert hook.id == body["data"]["id"]
    assert payload["account_id"] == api.master.id
    assert payload["type"] == "sms"  # the sms sample, shaped as the sms hook fires it
    assert answer["data"]["hook_id"] == hook.id
    assert "timestamp" in answer["data"]


def test_a_type_without_samples_gets_a_minimal_payload() -> None:
    """A plugin's hook type with no sample file: a payload that names the event."""
    payload = payload_for_test("no_such_samples", "acct")
    assert (payload["hook_event"], payload["account_id"], payload["test"]) == (
        "no_such_samples",
        "acct",
        True,
    )


async def test_test_fire_uses_sample(api: Api, token: str) -> None:
    """For channel_create (and all) the first Kazoo sample is sent, account replaced."""
    base = f"/v2/accounts/{api.master.id}/webhooks"
    _, body, _ = await api.call("PUT", base, token=token, data=HOOK)
    await api.call("POST", f"{base}/{body['data']['id']}/test", token=token)
    ((_, payload),) = api.tester.sent
    assert payload["account_id"] == api.master.id
    assert payload["hook_event"] == "channel_create"


async def test_bus_publish(api: Api, token: str) -> None:
    """The master account can publish an event; it arrives on a bound queue."""
    inbox: asyncio.Queue[bytes] = asyncio.Queue()
    queue = await api.bus.declare_queue(QueueSpec(exclusive=True, auto_delete=True))
    await api.bus.bind(queue, "callevt", "call.CHANNEL_CREATE.*")

    async def handler(delivery: Delivery) -> None:
        inbox.put_nowait(delivery.message.body)
        await delivery.ack()

    consumer = await api.bus.consume(queue, handler, prefetch=1)
    payload = {"Event-Category": "call_event", "Event-Name": "CHANNEL_CREATE"}
    status, body, _ = await api.call(
        "POST",
        "/v2/bus/publish",
        token=token,
        data={"exchange": "callevt", "routing_key": "call.CHANNEL_CREATE.abc", "payload": payload},
    )
    assert (status, body["data"]) == (200, "published")
    assert orjson.loads(await asyncio.wait_for(inbox.get(), 2)) == payload
    await consumer.cancel()


async def test_bus_publish_refusals(api: Api, token: str) -> None:
    """Only the master may publish, and only to Kazoo's exchanges."""
    _, key = await api.sub_account("tenant")
    status, _, _ = await api.call(
        "POST",
        "/v2/bus/publish",
        token=await api.token(key),
        data={"exchange": "callevt", "routing_key": "x", "payload": {}},
    )
    assert status == 403
    status, _, _ = await api.call(
        "POST", "/v2/bus/publish", data={"exchange": "callevt", "routing_key": "x", "payload": {}}
    )
    assert status == 401
    status, body, _ = await api.call(
        "POST", "/v2/bus/publish", token=token, data={"exchange": "nope", "routing_key": "x"}
    )
    assert status == 400
    assert set(body["data"]) == {"exchange", "payload"}
