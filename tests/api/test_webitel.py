"""Webitel's ``/api/v2/hooks`` (seed 004): its shapes both ways over the same stored hooks,
its credentials and errors; the hook visible and firing through the Crossbar API."""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from tests.conftest import Receiver
from webhooksd.accounts import bootstrap_master, create_account
from webhooksd.api import ApiDeps, create_app
from webhooksd.bus import Bus
from webhooksd.config import Settings
from webhooksd.delivery.dispatcher import Dispatcher
from webhooksd.delivery.sender import Sender
from webhooksd.hooks.table import HookTable
from webhooksd.records import Account, Hook
from webhooksd.runtime.metrics import Metrics
from webhooksd.store import Store

from .conftest import Api
from .test_docchanges import Notices, fixture_notices  # noqa: F401 (the notices fixture)

DOMAIN = "demo.domain.com"
HOOKS = "/api/v2/hooks"

#: the seed's create request body, exactly
SEED_CREATE: dict[str, Any] = {
    "event": "CUSTOM->engine::dialer_member_end",
    "enable": True,
    "description": "dialer finished member",
    "action": {"type": "web", "method": "POST", "url": "https://requestb.in/yoe4hwyo"},
    "customBody": True,
    "rawBody": '{ "dlr_id": "${dlr_id}", "member_id": "${member_id}", "end_cause": "${endCause}" }',
    "auth": {"headers": {}, "map": {}, "enabled": False},
    "map": {},
    "filter": {},
    "fields": [],
    "headers": {"Content-Type": "application/json"},
}
#: the seed's list answer item, without the server's ``_id`` and ``domain``
SEED_LISTED: dict[str, Any] = {
    "event": "CHANNEL_CREATE",
    "enable": True,
    "description": "",
    "action": {"type": "web", "method": "POST", "url": "https://requestb.in/yoe4hwyo"},
    "fields": [],
    "map": {},
    "filter": {},
    "headers": {},
    "auth": {"headers": {}, "map": {}, "enabled": False},
    "customBody": False,
    "rawBody": "",
}
#: the seed's create answer, as far as it does not depend on the server
SEED_INSERT_KEYS = ["result", "ops", "insertedCount", "insertedIds"]
SEED_OP_KEYS = [
    "domain",
    "event",
    "enable",
    "description",
    "action",
    "fields",
    "map",
    "filter",
    "headers",
    "auth",
    "customBody",
    "rawBody",
]


@pytest.fixture(name="demo")
async def fixture_demo(api: Api) -> tuple[Account, str]:
    """A sub-account whose realm is the seed's domain, and its API key."""
    return await create_account(api.store, name="demo", parent_id=api.master.id, realm=DOMAIN)


async def webitel(
    api: Api,
    method: str,
    path: str = HOOKS,
    *,
    token: str | None = None,
    key: str | None = None,
    domain: str | None = DOMAIN,
    body: Any = None,
) -> tuple[int, dict[str, Any]]:
    headers = {}
    if token is not None:
        headers["X-Access-Token"] = token
    if key is not None:
        headers["X-Key"] = key
    params = {"domain": domain} if domain is not None else {}
    resp = await api.client.request(
        method, path, headers=headers, params=params, json=body if body is not None else None
    )
    return resp.status, await resp.json()


async def test_seed_create_exactly_is_a_clear_400(
    api: Api, token: str, demo: tuple[Account, str]
) -> None:
    """The seed's own body names a FreeSWITCH custom event no hook module handles: 400 in
    Webitel's error shape saying so and listing the known events."""
    status, body = await webitel(api, "POST", token=token, body=SEED_CREATE)
    assert status == 400
    assert body["status"] == "error"
    assert "CUSTOM->engine::dialer_member_end has no hook module" in body["info"]
    assert "CHANNEL_CREATE" in body["info"]
    assert await api.store.list_hooks(demo[0].id) == []


async def test_seed_create_with_a_known_event(
    api: Api, token: str, demo: tuple[Account, str], notices: Notices
) -> None:
    """The seed's create with CHANNEL_CREATE answers MongoDB's insert shape, publishes the
    doc-change notice, and the hook is visible through the Crossbar API."""
    account, _ = demo
    request = {**SEED_CREATE, "event": "CHANNEL_CREATE"}
    status, body = await webitel(api, "POST", token=token, body=request)
    assert status == 200, body
    assert body["status"] == "OK"
    data = body["data"]
    assert list(data) == SEED_INSERT_KEYS
    assert data["result"] == {"ok": 1, "n": 1} and data["insertedCount"] == 1
    (op,) = data["ops"]
    hook_id = op["_id"]
    assert data["insertedIds"] == [hook_id]
    assert list(op)[: len(SEED_OP_KEYS)] == SEED_OP_KEYS and list(op)[-1] == "_id"
    assert op["domain"] == DOMAIN
    for key in SEED_OP_KEYS[1:]:
        assert op[key] == request[key], key
    ((routing_key, notice),) = await notices.take(1)
    assert routing_key == f"doc_created.webhooks.webhook.{hook_id}"
    assert notice["Account-ID"] == account.id

    status, listed, _ = await api.call("GET", f"/v2/accounts/{account.id}/webhooks", token=token)
    assert status == 200
    assert listed["data"] == [
        {
            "id": hook_id,
            "hook": "channel_create",
            "name": "dialer finished member",
            "uri": "https://requestb.in/yoe4hwyo",
            "enabled": True,
        }
    ]
    _, got, _ = await api.call("GET", f"/v2/accounts/{account.id}/webhooks/{hook_id}", token=token)
    assert got["data"]["body_template"] == SEED_CREATE["rawBody"]
    assert got["data"]["custom_request_headers"] == {"Content-Type": "application/json"}
    assert (got["data"]["http_verb"], got["data"]["format"]) == ("post", "json")


async def test_seed_list_example(api: Api, token: str, demo: tuple[Account, str]) -> None:
    """The seed's list request answers ``{"status":"OK","data":[…]}`` with its item shape."""
    item = {k: v for k, v in SEED_LISTED.items() if k not in ("customBody", "rawBody")}
    status, _ = await webitel(api, "POST", token=token, body=item)
    assert status == 200
    status, body = await webitel(api, "GET", token=token)
    assert status == 200
    assert body["status"] == "OK"
    (listed,) = body["data"]
    assert list(listed)[: len(SEED_LISTED) + 2] == ["_id", "domain", *SEED_LISTED]
    assert {k: listed[k] for k in SEED_LISTED} == SEED_LISTED
    assert listed["domain"] == DOMAIN and len(listed["_id"]) == 32


async def test_crossbar_hook_listed_in_webitel_shape(
    api: Api, token: str, demo: tuple[Account, str]
) -> None:
    """A hook created through the Crossbar API lists in Webitel's shape, secrets masked."""
    account, _ = demo
    data = {
        "name": "calls",
        "uri": "http://hooks.example.com/x",
        "hook": "channel_destroy",
        "http_verb": "put",
        "filter": [{"field": "call_direction", "eq": "inbound"}],
        "auth": {"type": "bearer", "token": "a-very-long-bearer-token"},
        "body_template": "x=${call_id}",
    }
    status, created, _ = await api.call(
        "PUT", f"/v2/accounts/{account.id}/webhooks", token=token, data=data
    )
    assert status == 201, created
    _, body = await webitel(api, "GET", f"{HOOKS}/{created['data']['id']}", token=token)
    item = body["data"]
    assert item["event"] == "CHANNEL_DESTROY"
    assert item["action"] == {"type": "web", "method": "PUT", "url": data["uri"]}
    assert item["filter"] == data["filter"]
    assert item["auth"] == {"type": "bearer", "token": "…oken"}
    assert (item["customBody"], item["rawBody"]) == (True, "x=${call_id}")
    assert item["enable"] is True and item["description"] == "calls"


async def test_update_keeps_crossbar_fields_and_delete(
    api: Api, token: str, demo: tuple[Account, str], notices: Notices
) -> None:
    """PUT replaces Webitel's fields, keeps ours (secret, custom_data), answers MongoDB's
    update result; DELETE removes it; unknown ids answer n: 0 and data null."""
    account, _ = demo
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    status, created, _ = await api.call(
        "PUT",
        f"/v2/accounts/{account.id}/webhooks",
        token=token,
        data={
            "name": "n",
            "uri": "http://hooks.example.com/x",
            "hook": "channel_create",
            "secret": secret,
            "custom_data": {"k": "v"},
            "body_template": "old",
        },
    )
    hook_id = created["data"]["id"]
    await notices.take(1)
    update = {
        "event": "CHANNEL_HANGUP_COMPLETE",
        "enable": False,
        "description": "renamed",
        "action": {"type": "web", "method": "GET", "url": "http://hooks.example.com/y"},
        "fields": ["call_id"],
        "retries": 10,
    }
    status, body = await webitel(api, "PUT", f"{HOOKS}/{hook_id}", token=token, body=update)
    assert (status, body) == (200, {"status": "OK", "data": {"ok": 1, "nModified": 1, "n": 1}})
    ((routing_key, _),) = await notices.take(1)
    assert routing_key == f"doc_edited.webhooks.webhook.{hook_id}"
    stored = await api.store.get_hook(hook_id)
    assert stored is not None
    assert stored.doc["hook"] == "channel_destroy" and stored.doc["enabled"] is False
    assert (stored.doc["http_verb"], stored.doc["uri"]) == ("get", "http://hooks.example.com/y")
    assert stored.doc["secret"] == secret and stored.doc["custom_data"] == {"k": "v"}
    assert "body_template" not in stored.doc and stored.doc["retries"] == 4
    unknown = f"{HOOKS}/{'0' * 32}"
    assert (await webitel(api, "PUT", unknown, token=token, body=update))[1]["data"]["n"] == 0
    assert (await webitel(api, "GET", unknown, token=token))[1] == {"status": "OK", "data": None}
    status, body = await webitel(api, "DELETE", f"{HOOKS}/{hook_id}", token=token)
    assert body == {"status": "OK", "data": {"ok": 1, "n": 1}}
    assert await api.store.get_hook(hook_id) is None
    assert (await webitel(api, "DELETE", f"{HOOKS}/{hook_id}", token=token))[1]["data"]["n"] == 0


async def test_validation_errors_in_webitel_terms(
    api: Api, token: str, demo: tuple[Account, str]
) -> None:
    """A bad regex or placeholder is a 400 whose info and errors use Webitel's names."""
    body = {
        **SEED_LISTED,
        "customBody": True,
        "rawBody": '{"a": "${a"}',
        "filter": {"caller_id_number": {"operation": "reg", "value": "/(/"}},
    }
    status, answer = await webitel(api, "POST", token=token, body=body)
    assert status == 400
    assert answer["status"] == "error"
    assert answer["info"].startswith("Bad request: ")
    assert {"rawBody", "filter.caller_id_number.value"} <= set(answer["errors"])
    assert "regular expression" in answer["info"]


@pytest.mark.parametrize(
    ("body", "info"),
    [
        ({"enable": True}, "Bad request: event name is required."),
        ({"event": "CHANNEL_CREATE"}, "Bad request: action options is required."),
        (
            {"event": "CHANNEL_CREATE", "action": {"type": "web", "method": "POST"}},
            "Bad request: action options is required.",
        ),
        (
            {
                "event": "CHANNEL_CREATE",
                "action": {"type": "email", "method": "POST", "url": "http://x.example.com/"},
            },
            "Bad request: action type email is not supported.",
        ),
        (
            {
                "event": "CHANNEL_CREATE",
                "action": {"type": "web", "method": "PATCH", "url": "http://x.example.com/"},
            },
            "Bad request: action method must be GET, POST or PUT.",
        ),
    ],
)
async def test_webitel_required_fields(
    api: Api, token: str, demo: tuple[Account, str], body: dict[str, Any], info: str
) -> None:
    """Webitel's own 400s for a missing event or action, word for word where it has them."""
    status, answer = await webitel(api, "POST", token=token, body=body)
    assert (status, answer) == (400, {"status": "error", "info": info})


async def test_credentials_and_domain(api: Api, token: str, demo: tuple[Account, str]) -> None:
    """X-Access-Token or X-Key authenticate; the domain is required, found by realm or name,
    and only among the accounts the caller may manage."""
    account, key = demo
    assert await webitel(api, "GET") == (401, {"status": "error", "info": "Invalid token"})
    assert (await webitel(api, "GET", token="not-a-token"))[0] == 401
    assert (await webitel(api, "GET", key="wrong"))[0] == 401
    assert (await webitel(api, "GET", key=key))[0] == 200
    assert (await webitel(api, "GET", token=token, domain="demo"))[0] == 200
    assert await webitel(api, "GET", token=token, domain=None) == (
        400,
        {"status": "error", "info": "Bad request: domain is required."},
    )
    assert (await webitel(api, "GET", token=token, domain="nowhere.example.com"))[0] == 404
    other, other_key = await create_account(api.store, name="other", parent_id=api.master.id)
    assert (await webitel(api, "GET", key=other_key))[0] == 404  # not its domain
    assert (await webitel(api, "GET", key=key, domain="master"))[0] == 404
    assert other.id != account.id


async def test_unrouted_method_and_bad_body(
    api: Api, token: str, demo: tuple[Account, str]
) -> None:
    """An unrouted method is Express's 404; a non-object body is a 400."""
    status, body = await webitel(api, "PATCH", token=token)
    assert status == 404 and body["status"] == "error" and "not found" in body["info"]
    resp = await api.client.post(
        HOOKS, params={"domain": DOMAIN}, headers={"X-Access-Token": token}, data=b"[1]"
    )
    assert resp.status == 400
    assert (await resp.json())["info"] == "Bad request: the body must be a JSON object."


async def test_listing_pages(api: Api, token: str, demo: tuple[Account, str]) -> None:
    """``limit``, ``page`` and ``columns`` page and project as Webitel's listing does."""
    for n in range(3):
        item = {**SEED_LISTED, "description": f"h{n}"}
        assert (await webitel(api, "POST", token=token, body=item))[0] == 200
    resp = await api.client.get(
        HOOKS,
        params={"domain": DOMAIN, "limit": "2", "page": "2", "columns": "event"},
        headers={"X-Access-Token": token},
    )
    body = await resp.json()
    (only,) = body["data"]
    assert set(only) == {"_id", "event"}


async def test_openapi_documents_webitel_routes(api: Api) -> None:
    """The OpenAPI document lists Webitel's paths and credentials."""
    _, doc, _ = await api.call("GET", "/v2/openapi.json")
    assert set(doc["paths"][HOOKS]) == {"get", "post"}
    assert set(doc["paths"][f"{HOOKS}/{{hook_id}}"]) == {"get", "put", "delete"}
    assert "webitelKey" in doc["components"]["securitySchemes"]


# -- firing through the Crossbar API, with the real dispatcher --------------------------------
@pytest.fixture(name="live")
async def fixture_live(
    settings: Settings, store: Store, bus: Bus
) -> AsyncIterator[TestClient[Any, Any]]:
    """The API whose test-fire runs the real dispatcher (loopback targets allowed)."""
    await bootstrap_master(store)
    async with AsyncExitStack() as stack:
        sender = await stack.enter_async_context(Sender.open(settings))

        async def on_gone(hook: Hook, reason: str) -> None:
            raise AssertionError("unexpected 410")

        dispatcher = Dispatcher(
            settings=settings,
            store=store,
            bus=bus,
            sender=sender,
            table=HookTable(),
            metrics=Metrics(),
            cluster_id="c" * 32,
            on_gone=on_gone,
        )
        deps = ApiDeps(
            settings=settings,
            store=store,
            bus=bus,
            metrics=Metrics(),
            tester=dispatcher,
            readiness=dict,
        )
        yield await stack.enter_async_context(TestClient(TestServer(create_app(deps))))


async def test_webitel_hook_fires_through_crossbar(
    live: TestClient[Any, Any], store: Store, receiver: Receiver
) -> None:
    """A hook created with Webitel's API, test-fired through the Crossbar API, arrives with
    its templated JSON body and templated header filled from the sample payload."""
    account, key = await create_account(store, name="demo", realm=DOMAIN)
    request = copy.deepcopy(SEED_CREATE)
    request.update(
        event="CHANNEL_CREATE",
        action={"type": "web", "method": "POST", "url": f"{receiver.url}/w"},
        rawBody='{"call": "${call_id}", "from": "${caller_id_name}", "end": "${endCause|none}"}',
        headers={"Content-Type": "application/json", "X-Owner": "${owner_id}"},
    )
    resp = await live.post(HOOKS, params={"domain": DOMAIN}, headers={"X-Key": key}, json=request)
    assert resp.status == 200, await resp.text()
    hook_id = (await resp.json())["data"]["insertedIds"][0]
    auth = await live.put("/v2/api_auth", json={"data": {"api_key": key}})
    token = (await auth.json())["auth_token"]
    resp = await live.post(
        f"/v2/accounts/{account.id}/webhooks/{hook_id}/test", headers={"X-Auth-Token": token}
    )
    assert resp.status == 200, await resp.text()
    (got,) = await receiver.wait_for(1)
    sample = json.loads(
        await (await live.get("/v2/webhooks/samples/webhooks_channel_create")).read()
    )["data"][0]
    assert json.loads(got.body) == {
        "call": sample["call_id"],
        "from": sample["caller_id_name"],
        "end": "none",
    }
    assert got.headers["X-Owner"] == sample["owner_id"]
    assert got.headers["X-Hook-ID"] == hook_id


async def test_domain_is_never_a_guess(api: Api, token: str) -> None:
    """A tenant that sets its realm to its sibling's name does not receive what the reseller
    means for the sibling: a domain that names two accounts (one by realm, one by name) is a
    clear 400, and a domain that names one account is that account."""
    sibling, _ = await create_account(api.store, name="acme", parent_id=api.master.id)
    thief, thief_key = await create_account(api.store, name="thief", parent_id=api.master.id)
    thief_token = await api.token(thief_key)
    status, _, _ = await api.call("GET", f"/v2/accounts/{sibling.id}", token=thief_token)
    assert status == 403
    status, body, _ = await api.call(
        "PATCH", f"/v2/accounts/{thief.id}", token=thief_token, data={"realm": "acme"}
    )
    assert status == 200, body
    status, answer = await webitel(api, "GET", token=token, domain="acme")
    assert status == 400 and "more than one account" in answer["info"], answer
    status, _ = await webitel(api, "GET", token=token, domain="thief")
    assert status == 200  # its name still names it alone
