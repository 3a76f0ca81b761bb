"""Hook CRUD, validation and listings (reference §2, §3.4-3.9)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from webhooksd.records import AUTO_DISABLE_REASON
from webhooksd.redaction import REDACTED

from .conftest import Api

HOOK = {
    "name": "New Calls",
    "uri": "http://hooks.example.com/calls/new.php",
    "hook": "channel_create",
}
DEFAULTS = {
    "http_verb": "post",
    "format": "form-data",
    "retries": 2,
    "enabled": True,
    "include_internal_legs": True,
    "version": "v1",
}
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
BASIC = {"username": "me", "password": "a-password-of-20-chars"}


@pytest.fixture(name="hooks_path")
def fixture_hooks_path(api: Api) -> str:
    """The master account's webhooks collection."""
    return f"/v2/accounts/{api.master.id}/webhooks"


async def create(api: Api, token: str, path: str, **fields: object) -> dict[str, Any]:
    status, body, _ = await api.call("PUT", path, token=token, data={**HOOK, **fields})
    assert status == 201, body
    return dict(body["data"])


async def test_create_applies_defaults(api: Api, token: str, hooks_path: str) -> None:
    """A minimal PUT stores and returns Kazoo's defaults and a 32-hex id."""
    data = await create(api, token, hooks_path)
    assert data == {**HOOK, **DEFAULTS, "id": data["id"]}
    assert len(data["id"]) == 32
    stored = await api.store.get_hook(data["id"])
    assert stored is not None
    assert stored.account_id == api.master.id


async def test_strings_are_coerced(api: Api, token: str, hooks_path: str) -> None:
    """``"retries":"3"`` becomes 3 and ``"enabled":"false"`` becomes false."""
    data = await create(api, token, hooks_path, retries="3", enabled="false")
    assert data["retries"] == 3
    assert data["enabled"] is False


async def test_all_errors_at_once(api: Api, token: str, hooks_path: str) -> None:
    """Every error is reported together: uri, hook enum and retries (Kazoo's example)."""
    status, body, _ = await api.call(
        "PUT",
        hooks_path,
        token=token,
        data={"name": "x", "uri": "ftp://h", "hook": "bogus", "retries": 9},
    )
    assert status == 400
    assert body["data"] == {
        "uri": {"error": {"message": "invalid client URL", "value": "ftp://h"}},
        "hook": {
            "enum": {
                "message": "Value not found in enumerated list of values",
                "target": [
                    "all",
                    "channel_answer",
                    "channel_bridge",
                    "channel_create",
                    "channel_destroy",
                    "mms",
                    "notifications",
                    "object",
                    "parking",
                    "sms",
                ],
                "value": "bogus",
            }
        },
        "retries": {"maximum": {"message": "Value must be at most 4", "target": 4, "value": 9}},
    }


async def test_empty_doc_lists_required(api: Api, token: str, hooks_path: str) -> None:
    """PUT {} names hook, name and uri as required."""
    status, body, _ = await api.call("PUT", hooks_path, token=token, data={})
    assert status == 400
    assert body["data"] == {
        name: {"required": {"message": "Field is required but missing", "value": name}}
        for name in ("hook", "name", "uri")
    }


async def test_uri_rules(api: Api, token: str, hooks_path: str) -> None:
    """Scheme http/https (in any case: test_bad_input); custom_data values must be strings;
    bad types are 400."""
    for uri in ("example.com/x", "ftp://example.com/"):
        status, body, _ = await api.call("PUT", hooks_path, token=token, data={**HOOK, "uri": uri})
        assert status == 400
        assert body["data"]["uri"]["error"]["message"] == "invalid client URL"
    status, body, _ = await api.call("PUT", hooks_path, token=token, data={**HOOK, "uri": 5})
    assert status == 400
    assert body["data"]["uri"]["type"]["message"] == "Value did not match type(s): string"
    status, body, _ = await api.call(
        "PUT", hooks_path, token=token, data={**HOOK, "custom_data": {"a": 1}}
    )
    assert status == 400
    assert "custom_data.a" in body["data"]


async def test_loopback_allowed_only_with_private_targets(
    api: Api, token: str, hooks_path: str
) -> None:
    """127.0.0.1 is accepted because the test settings allow private targets."""
    data = await create(api, token, hooks_path, uri="http://127.0.0.1:9/x")
    assert data["uri"] == "http://127.0.0.1:9/x"


async def test_modifiers_required(api: Api, token: str, hooks_path: str) -> None:
    """An object hook needs both type and action; bad values list the allowed ones."""
    base = {**HOOK, "hook": "object"}
    status, body, _ = await api.call(
        "PUT", hooks_path, token=token, data={**base, "custom_data": {"type": "user"}}
    )
    assert status == 400
    assert body["data"] == {
        "custom_data.action": {"required": {"message": "missing required modifier"}}
    }
    status, body, _ = await api.call(
        "PUT",
        hooks_path,
        token=token,
        data={**base, "custom_data": {"type": "user", "action": "doc_exploded"}},
    )
    enum = body["data"]["custom_data.action"]["enum"]
    assert enum["cause"] == "doc_exploded"
    assert "doc_created" in enum["target"]
    data = await create(
        api, token, hooks_path, hook="object", custom_data={"type": "user", "action": "doc_edited"}
    )
    assert data["custom_data"] == {"type": "user", "action": "doc_edited"}


async def test_super_only_notifications_hidden_from_target(api: Api, token: str) -> None:
    """A non-master caller's enum target omits system_alert but the value is accepted."""
    account, key = await api.sub_account("tenant")
    tenant = await api.token(key)
    path = f"/v2/accounts/{account.id}/webhooks"
    base = {**HOOK, "hook": "notifications"}
    status, body, _ = await api.call(
        "PUT", path, token=tenant, data={**base, "custom_data": {"type": "nope"}}
    )
    assert status == 400
    target = body["data"]["custom_data.type"]["enum"]["target"]
    assert "missed_call" in target
    assert "system_alert" not in target
    status, _, _ = await api.call(
        "PUT", path, token=tenant, data={**base, "custom_data": {"type": "system_alert"}}
    )
    assert status == 201


async def test_modifiers_only_after_schema(api: Api, token: str, hooks_path: str) -> None:
    """Modifier errors do not appear while the schema fails."""
    status, body, _ = await api.call(
        "PUT", hooks_path, token=token, data={**HOOK, "hook": "object", "retries": 7}
    )
    assert status == 400
    assert list(body["data"]) == ["retries"]


async def test_get_post_replaces_with_defaults(api: Api, token: str, hooks_path: str) -> None:
    """POST is a full replace: omitted fields vanish and defaults come back."""
    data = await create(api, token, hooks_path, retries=3, enabled=False, group="g")
    path = f"{hooks_path}/{data['id']}"
    status, body, _ = await api.call(
        "POST", path, token=token, data={**HOOK, "uri": "http://hooks.example.com/v2"}
    )
    assert status == 200
    assert body["data"] == {
        **HOOK,
        **DEFAULTS,
        "uri": "http://hooks.example.com/v2",
        "id": data["id"],
    }
    assert body["revision"].startswith("2-")
    _, got, _ = await api.call("GET", path, token=token)
    assert got["data"] == body["data"]


async def test_patch_merges_and_null_deletes(api: Api, token: str, hooks_path: str) -> None:
    """PATCH merges shallowly; null removes a key, whose default returns."""
    data = await create(api, token, hooks_path, retries=3, custom_data={"a": "1", "b": "2"})
    path = f"{hooks_path}/{data['id']}"
    status, body, _ = await api.call(
        "PATCH",
        path,
        token=token,
        data={"enabled": False, "retries": None, "custom_data": {"c": "3"}},
    )
    assert status == 200
    assert body["data"]["enabled"] is False
    assert body["data"]["retries"] == 2
    assert body["data"]["custom_data"] == {"c": "3"}
    assert body["data"]["name"] == HOOK["name"]
    status, body, _ = await api.call("PATCH", path, token=token, data={"retries": 99})
    assert status == 400


async def test_delete_answers_last_doc(api: Api, token: str, hooks_path: str) -> None:
    """DELETE answers the doc plus _read_only.deleted; afterwards GET is 404."""
    data = await create(api, token, hooks_path)
    path = f"{hooks_path}/{data['id']}"
    status, body, headers = await api.call("DELETE", path, token=token)
    assert status == 200
    assert headers["Content-Type"] == "application/json"
    assert body["data"] == {**data, "_read_only": {"deleted": True}}
    status, body, _ = await api.call("GET", path, token=token)
    assert status == 404
    assert body["message"] == "bad_identifier"
    _, listing, _ = await api.call("GET", hooks_path, token=token)
    assert listing["data"] == []


async def test_other_accounts_hook_is_404(api: Api, token: str, hooks_path: str) -> None:
    """A hook id of another account is 404 on every verb, even for the master."""
    data = await create(api, token, hooks_path)
    other, _ = await api.sub_account("other")
    path = f"/v2/accounts/{other.id}/webhooks/{data['id']}"
    for method in ("GET", "PATCH", "DELETE"):
        status, body, _ = await api.call(method, path, token=token, data={})
        assert (status, body["message"]) == (404, "bad_identifier"), method
    assert await api.store.get_hook(data["id"]) is not None


async def test_disable_reason_shown_and_cleared(api: Api, token: str, hooks_path: str) -> None:
    """An auto-disabled hook shows disable_reason (list and GET); enabling clears it."""
    data = await create(api, token, hooks_path)
    stored = await api.store.get_hook(data["id"])
    assert stored is not None
    await api.store.update_hook(
        replace(stored, doc={**stored.doc, "enabled": False}, disabled_reason=AUTO_DISABLE_REASON)
    )
    path = f"{hooks_path}/{data['id']}"
    _, listing, _ = await api.call("GET", hooks_path, token=token)
    assert listing["data"][0]["disable_reason"] == AUTO_DISABLE_REASON
    _, got, _ = await api.call("GET", path, token=token)
    assert got["data"]["disable_reason"] == AUTO_DISABLE_REASON
    # the UI posts back the whole fetched doc, disable_reason included: it is read-only
    status, body, _ = await api.call(
        "POST", path, token=token, data={**got["data"], "enabled": True}
    )
    assert status == 200
    assert "disable_reason" not in body["data"]
    fresh = await api.store.get_hook(data["id"])
    assert fresh is not None
    assert fresh.disabled_reason is None
    assert "disable_reason" not in fresh.doc


async def test_secret_masked_and_kept(api: Api, token: str, hooks_path: str) -> None:
    """The secret is shown masked; posting the mask back keeps the stored secret."""
    data = await create(api, token, hooks_path, secret=SECRET)
    assert data["secret"] == f"whsec_…{SECRET[-4:]}"
    path = f"{hooks_path}/{data['id']}"
    _, got, _ = await api.call("GET", path, token=token)
    assert got["data"]["secret"] == data["secret"]
    status, _, _ = await api.call("POST", path, token=token, data={**got["data"], "retries": 1})
    assert status == 200
    stored = await api.store.get_hook(data["id"])
    assert stored is not None
    assert stored.doc["secret"] == SECRET
    status, body, _ = await api.call("PATCH", path, token=token, data={"secret": "whsec_…zzzz"})
    assert status == 400
    assert "secret" in body["data"]
    status, body, _ = await api.call("PATCH", path, token=token, data={"secret": "short"})
    assert status == 400
    assert "value" not in body["data"]["secret"]["minLength"]


async def test_listing_refuses_a_filter_on_a_secret(api: Api, token: str, hooks_path: str) -> None:
    """``?filter_secret=<guess>`` would confirm a guess of the signing secret (and so of an
    auth credential) one query at a time: a value filter on a secret field is a 400 naming
    the parameter; the same filters on other fields, and presence filters, still work."""
    await create(api, token, hooks_path, secret=SECRET, auth={"type": "basic", **BASIC})
    for name, value in [
        ("filter_secret", SECRET),
        ("filter_not_secret", SECRET),
        ("filter_auth.password", BASIC["password"]),
        ("filter_auth", '{"type": "basic"}'),
        ("filter_secret.x", "y"),
    ]:
        status, body, _ = await api.call("GET", hooks_path, token=token, params={name: value})
        assert status == 400, (name, body)
        assert body["message"] == "validation error"
        assert list(body["data"]) == [name]
        assert "forbidden" in body["data"][name]
        assert SECRET not in str(body)
    for name, value in [("has_key", "secret"), ("has_value", "auth.password")]:
        status, body, _ = await api.call("GET", hooks_path, token=token, params={name: value})
        assert status == 200 and len(body["data"]) == 1, (name, body)
    status, body, _ = await api.call(
        "GET", hooks_path, token=token, params={"filter_auth.type": "basic"}
    )
    assert status == 200 and len(body["data"]) == 1


async def test_additions_validated(api: Api, token: str, hooks_path: str) -> None:
    """custom_request_headers must map to strings; group is a string."""
    status, body, _ = await api.call(
        "PUT",
        hooks_path,
        token=token,
        data={**HOOK, "custom_request_headers": {"X-A": 1}, "group": 3},
    )
    assert status == 400
    assert set(body["data"]) == {"custom_request_headers.X-A", "group"}
    data = await create(api, token, hooks_path, custom_request_headers={"X-A": "b"}, group="g")
    assert data["custom_request_headers"] == {"X-A": "b"}


async def test_listing_order_paging_and_filters(api: Api, token: str, hooks_path: str) -> None:
    """The summary is by id descending, pages with opaque keys, and honours filters."""
    ids = sorted(
        [
            (await create(api, token, hooks_path, id=f"{i:032x}", hook="sms" if i % 2 else "mms"))[
                "id"
            ]
            for i in range(5)
        ]
    )
    _, body, _ = await api.call("GET", hooks_path, token=token)
    assert [item["id"] for item in body["data"]] == ids[::-1]
    assert set(body["data"][0]) == {"id", "hook", "name", "uri", "enabled"}
    _, body, _ = await api.call("GET", f"{hooks_path}?ascending=true", token=token)
    assert [item["id"] for item in body["data"]] == ids
    _, body, _ = await api.call("GET", f"{hooks_path}?descending=false", token=token)
    assert [item["id"] for item in body["data"]] == ids[::-1]
    seen: list[str] = []
    query = "?page_size=2"
    while True:
        _, page, _ = await api.call("GET", f"{hooks_path}{query}", token=token)
        assert page["page_size"] == len(page["data"]) <= 2
        seen += [item["id"] for item in page["data"]]
        if "next_start_key" not in page:
            break
        query = f"?page_size=2&start_key={page['next_start_key']}"
    assert seen == ids[::-1]
    _, body, _ = await api.call("GET", f"{hooks_path}?paginate=false", token=token)
    assert len(body["data"]) == 5
    assert "page_size" not in body
    assert "start_key" not in body
    assert "next_start_key" not in body
    _, body, _ = await api.call("GET", f"{hooks_path}?filter_hook=sms", token=token)
    assert {item["hook"] for item in body["data"]} == {"sms"}
    _, body, _ = await api.call("GET", f'{hooks_path}?filter_not_hook=["sms"]', token=token)
    assert {item["hook"] for item in body["data"]} == {"mms"}
    _, body, _ = await api.call(
        "GET", f"{hooks_path}?filter_pvt_account_id={api.master.id}", token=token
    )
    assert len(body["data"]) == 5
    _, body, _ = await api.call("GET", f"{hooks_path}?has_key=group", token=token)
    assert body["data"] == []


async def test_descendants_path(api: Api, token: str) -> None:
    """GET and PUT on /descendants/webhooks act on the account's own hooks."""
    parent, _ = await api.sub_account("parent")
    child, _ = await api.sub_account("child", parent.id)
    await create(api, token, f"/v2/accounts/{child.id}/webhooks")
    path = f"/v2/accounts/{parent.id}/descendants/webhooks"
    status, body, _ = await api.call("GET", path, token=token)
    assert (status, body["data"]) == (200, [])
    data = await create(api, token, path)
    assert (await api.store.get_hook(data["id"])).account_id == parent.id  # type: ignore[union-attr]


async def test_size_limits_are_validation_errors(api: Api, token: str, hooks_path: str) -> None:
    """Oversized URIs, custom data and headers are 400s with dotted keys (generous bounds
    against abuse, which Kazoo's schema lacks), in kz_json_schema's shape: a length error
    names the string as ``cause`` and ``value``."""
    too_many = {f"k{n}": "v" for n in range(51)}
    uri = "http://hooks.example.com/" + "p" * 8192
    status, body, _ = await api.call(
        "PUT",
        hooks_path,
        token=token,
        data={
            "name": "n",
            "hook": "channel_create",
            "uri": uri,
            "custom_data": too_many,
            "custom_request_headers": {"X-Big": "v" * 1025},
            "group": "g" * 129,
        },
    )
    assert status == 400 and body["message"] == "validation error"
    data = body["data"]
    assert data["uri"] == {
        "maxLength": {
            "message": "String must not be more than 8192 characters",
            "target": 8192,
            "cause": uri,
            "value": uri,
        }
    }
    assert data["custom_data"]["maxProperties"]["target"] == 50
    assert data["custom_request_headers.X-Big"]["maxLength"]["target"] == 1024
    assert data["group"]["maxLength"]["target"] == 128
    status, body, _ = await api.call(
        "PUT", hooks_path, token=token, data={**HOOK, "custom_data": {"k": "v" * 4097}}
    )
    assert status == 400 and body["data"]["custom_data.k"]["maxLength"]["target"] == 4096


async def test_kazoo_clients_long_fields_are_accepted(
    api: Api, token: str, hooks_path: str
) -> None:
    """Kazoo's schema has no length limits: a long name, a URI of a few kilobytes (well
    inside any server's request line) and long custom data values are stored as sent."""
    doc = {
        **HOOK,
        "name": "n" * 20_000,
        "uri": "http://hooks.example.com/" + "p" * 6000 + "?t=" + "x" * 1000,
        "custom_data": {f"k{n}": "v" * 4096 for n in range(50)},
    }
    status, body, _ = await api.call("PUT", hooks_path, token=token, data=doc)
    assert status == 201, body
    assert {k: body["data"][k] for k in ("name", "uri", "custom_data")} == {
        k: doc[k] for k in ("name", "uri", "custom_data")
    }


async def test_documents_follow_the_redaction_rule(api: Api, token: str, hooks_path: str) -> None:
    """GET, the listing and the filters show the URL's password, secret-looking query values
    and secret-looking custom header values redacted; sending the shown document back (POST
    or PATCH) keeps the stored values; a value filter on custom headers is refused."""
    uri = "https://bob:hunter2@hooks.example.com/in?token=t0ken&q=1"
    headers = {"X-Api-Key": "k3y", "X-Tenant": "acme"}
    data = await create(api, token, hooks_path, uri=uri, custom_request_headers=headers)
    shown_uri = f"https://bob:{REDACTED}@hooks.example.com/in?token={REDACTED}&q=1"
    assert data["uri"] == shown_uri
    assert data["custom_request_headers"] == {"X-Api-Key": REDACTED, "X-Tenant": "acme"}
    path = f"{hooks_path}/{data['id']}"
    _, got, _ = await api.call("GET", path, token=token)
    assert got["data"] == data
    _, listed, _ = await api.call("GET", hooks_path, token=token)
    assert [item["uri"] for item in listed["data"]] == [shown_uri]
    assert "hunter2" not in str(listed) and "t0ken" not in str(got) and "k3y" not in str(got)
    status, _, _ = await api.call("POST", path, token=token, data={**data, "name": "renamed"})
    assert status == 200
    status, _, _ = await api.call("PATCH", path, token=token, data={"uri": shown_uri})
    assert status == 200
    stored = await api.store.get_hook(data["id"])
    assert stored is not None
    assert (stored.doc["uri"], stored.doc["custom_request_headers"]) == (uri, headers)
    assert stored.doc["name"] == "renamed"
    params = {"filter_custom_request_headers.X-Api-Key": "k3y"}
    status, body, _ = await api.call("GET", hooks_path, token=token, params=params)
    assert status == 400 and "forbidden" in str(body)
    status, body, _ = await api.call("GET", hooks_path, token=token, params={"filter_uri": uri})
    assert (status, body["data"]) == (200, [])  # the filter sees the redacted URI only


async def test_an_edited_redacted_value_is_refused(api: Api, token: str, hooks_path: str) -> None:
    """A shown URL or header edited around its ``<redacted>`` part cannot keep the stored
    secret: 400, never a stored literal ``<redacted>``."""
    uri = "https://bob:hunter2@hooks.example.com/in"
    data = await create(api, token, hooks_path, uri=uri, custom_request_headers={"X-Key": "k"})
    path = f"{hooks_path}/{data['id']}"
    edited_uri = data["uri"].replace("/in", "/other")
    for patch in (
        {"uri": edited_uri},
        {"custom_request_headers": {"X-Key": f"x{REDACTED}"}},
        {"custom_request_headers": {"X-New": REDACTED}},
    ):
        status, body, _ = await api.call("PATCH", path, token=token, data=patch)
        assert (status, body["message"]) == (400, "validation error"), (patch, body)
    stored = await api.store.get_hook(data["id"])
    assert stored is not None and stored.doc["uri"] == uri


async def test_test_event_with_edited_payload(api: Api, token: str, hooks_path: str) -> None:
    """``data.payload`` is sent instead of the sample, keys starting with ``_`` included;
    without it the sample goes."""
    hook_id = (await create(api, token, hooks_path))["id"]
    edited = {"call_id": "edited", "_keep": 1, "nested": {"a": [1, 2]}}
    status, body, _ = await api.call(
        "POST", f"{hooks_path}/{hook_id}/test", token=token, data={"payload": edited}
    )
    assert status == 200, body
    assert api.tester.sent[-1][1] == edited
    status, _, _ = await api.call("POST", f"{hooks_path}/{hook_id}/test", token=token)
    assert status == 200
    assert api.tester.sent[-1][1]["account_id"] == api.master.id
    assert api.tester.sent[-1][1] != edited


async def test_test_event_bad_payload(api: Api, token: str, hooks_path: str) -> None:
    """A payload that is not an object, or nests too deep, is a 400 naming the field."""
    hook_id = (await create(api, token, hooks_path))["id"]
    path = f"{hooks_path}/{hook_id}/test"
    for bad in ([1, 2], "text", 3):
        status, body, _ = await api.call("POST", path, token=token, data={"payload": bad})
        assert status == 400
        assert body["data"]["payload"]["type"]["target"] == "object"
    deep: dict[str, Any] = {}
    for _ in range(40):
        deep = {"d": deep}
    status, body, _ = await api.call("POST", path, token=token, data={"payload": deep})
    assert status == 400
    assert "depth" in body["data"]["data"]
    assert len(api.tester.sent) == 0
