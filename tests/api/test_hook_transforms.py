"""The transform fields of a hook document through the Crossbar API: stored as sent,
validated with Crossbar's 400 and dotted keys, auth secrets masked and kept."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import Api

HOOK = {"name": "t", "uri": "http://hooks.example.com/x", "hook": "channel_create"}
TRANSFORMS = {
    "format": "json",
    "body_template": '{"call": "${call_id}", "who": "${caller_id_name|unknown}"}',
    "filter": [{"field": "call_direction", "eq": "inbound"}, {"field": "x", "gte": 1, "lt": 5}],
    "fields": ["call_id", "caller_id_name"],
    "map": {"call_id": "call"},
    "custom_request_headers": {"X-Call": "${call_id}"},
}
SECRET = "very-secret-value-1234"
AUTH: dict[str, Any] = {
    "type": "token",
    "url": "https://idp.example.com/token",
    "params": {"client_id": "me", "client_secret": SECRET},
    "ttl_s": 60,
}


@pytest.fixture(name="hooks_path")
def fixture_hooks_path(api: Api) -> str:
    """The master account's webhooks collection."""
    return f"/v2/accounts/{api.master.id}/webhooks"


async def test_transform_fields_round_trip(api: Api, token: str, hooks_path: str) -> None:
    """A hook with every transform field is stored and returned as sent."""
    status, body, _ = await api.call("PUT", hooks_path, token=token, data={**HOOK, **TRANSFORMS})
    assert status == 201, body
    data = body["data"]
    for key, value in TRANSFORMS.items():
        assert data[key] == value
    stored = await api.store.get_hook(data["id"])
    assert stored is not None and stored.doc["filter"] == TRANSFORMS["filter"]


ERRORS: list[tuple[dict[str, Any], str]] = [
    ({"filter": [{"field": "a", "regex": "(unclosed"}]}, "filter.0.regex"),
    # backtracking-only syntax: RE2 (linear time) cannot express it
    ({"filter": [{"field": "a", "regex": "(?<=a)b"}]}, "filter.0.regex"),
    ({"filter": {"a": {"operation": "reg", "value": "/(a)\\1/"}}}, "filter.a.value"),
    ({"filter": [{"field": "a", "between": [1, 2]}]}, "filter.0.between"),
    ({"filter": {"a": {"operation": "like"}}}, "filter.a.operation"),
    ({"body_template": '{"a": "${a"}', "format": "json"}, "body_template"),
    ({"body_template": '{"a": ${a}', "format": "json"}, "body_template"),
    ({"body_template": "${a}", "http_verb": "get"}, "body_template"),
    ({"custom_request_headers": {"X-A": "${a..b}"}}, "custom_request_headers.X-A"),
    ({"fields": ["ok", "bad..path"]}, "fields.1"),
    ({"map": {"a": "b", "c": "b"}}, "map.c"),
    ({"auth": {"type": "kerberos"}}, "auth.type"),
    ({"auth": {"type": "token", "url": "ftp://idp.example.com/"}}, "auth.url"),
]


@pytest.mark.parametrize(("fields", "key"), ERRORS)
async def test_bad_transforms_are_400(
    api: Api, token: str, hooks_path: str, fields: dict[str, Any], key: str
) -> None:
    """Each bad transform is Crossbar's 400 ``validation error`` under its dotted key."""
    status, body, _ = await api.call("PUT", hooks_path, token=token, data={**HOOK, **fields})
    assert status == 400, body
    assert body["message"] == "validation error"
    assert key in body["data"], body["data"]
    entry = next(iter(body["data"][key].values()))
    assert entry["message"]


async def test_schema_types_checked(api: Api, token: str, hooks_path: str) -> None:
    """Wrong JSON types are schema errors, reported with the transform errors at once."""
    data = {**HOOK, "fields": "call_id", "map": {"a": 1}, "filter": 3, "auth": "x"}
    status, body, _ = await api.call("PUT", hooks_path, token=token, data=data)
    assert status == 400
    assert {"fields", "map.a", "filter", "auth"} <= set(body["data"])
    assert "type" in body["data"]["fields"]
    assert "value" not in body["data"]["auth"]["type"]  # auth values are never echoed


async def test_auth_secrets_masked_and_kept(api: Api, token: str, hooks_path: str) -> None:
    """GET masks auth secrets; sending the masked document back keeps the stored secrets."""
    status, body, _ = await api.call("PUT", hooks_path, token=token, data={**HOOK, "auth": AUTH})
    assert status == 201, body
    hook_id = body["data"]["id"]
    shown = body["data"]["auth"]
    assert shown["params"] == {"client_id": "…", "client_secret": "…1234"}
    assert "very-secret" not in str(body)
    _, got, _ = await api.call("GET", f"{hooks_path}/{hook_id}", token=token)
    assert got["data"]["auth"] == shown
    status, body, _ = await api.call(
        "POST", f"{hooks_path}/{hook_id}", token=token, data={**got["data"], "name": "renamed"}
    )
    assert status == 200, body
    stored = await api.store.get_hook(hook_id)
    assert stored is not None and stored.doc["auth"] == AUTH
    assert stored.doc["name"] == "renamed"
    wrong = {**AUTH, "params": {"client_id": "me", "client_secret": "…9999"}}
    status, body, _ = await api.call(
        "PATCH", f"{hooks_path}/{hook_id}", token=token, data={"auth": wrong}
    )
    assert status == 400
    assert "auth.params.client_secret" in body["data"]


async def test_auth_filter_is_no_oracle(api: Api, token: str, hooks_path: str) -> None:
    """A listing filter on an auth secret cannot confirm its value: it is refused."""
    await api.call("PUT", hooks_path, token=token, data={**HOOK, "auth": AUTH})
    for name, value in [("filter_auth.params.client_secret", SECRET), ("filter_auth.token", "x")]:
        status, body, _ = await api.call("GET", hooks_path, token=token, params={name: value})
        assert status == 400 and list(body["data"]) == [name], body


async def test_test_fire_sends_payload_to_tester(api: Api, token: str, hooks_path: str) -> None:
    """The test endpoint still hands the hook (with its transforms) to the tester."""
    _, body, _ = await api.call("PUT", hooks_path, token=token, data={**HOOK, **TRANSFORMS})
    hook_id = body["data"]["id"]
    status, _, _ = await api.call("POST", f"{hooks_path}/{hook_id}/test", token=token)
    assert status == 200
    (hook, _payload) = api.tester.sent[-1]
    assert hook.doc["body_template"] == TRANSFORMS["body_template"]
