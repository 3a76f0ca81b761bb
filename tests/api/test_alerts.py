"""An account's alert settings: ``/v2/accounts/{A}/webhooks/alerts`` (issue 14, being told)."""

from __future__ import annotations

from .conftest import Api

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
MASKED = "whsec_…LaSw"


def _path(account_id: str) -> str:
    return f"/v2/accounts/{account_id}/webhooks/alerts"


async def test_unset_by_default(api: Api, token: str) -> None:
    """An account that set nothing reads as no addresses and no URL (e-mail off here)."""
    status, body, _ = await api.call("GET", _path(api.master.id), token=token)
    assert (status, body["status"]) == (200, "success")
    assert body["data"] == {"emails": [], "email_enabled": False}


async def test_round_trip_hides_the_secret(api: Api, token: str) -> None:
    """The secret is stored whole, shown masked; POSTing back what was read keeps it."""
    data = {"emails": ["ops@example.com", "b.c+x@mail.example.org"], "url": "https://a.example/x"}
    status, body, _ = await api.call(
        "POST", _path(api.master.id), token=token, data={**data, "secret": SECRET}
    )
    assert status == 200, body
    assert body["data"] == {**data, "secret": MASKED, "email_enabled": False}
    stored = await api.store.get_settings(api.master.id)
    assert stored["alerts"] == {**data, "secret": SECRET}

    _, got, _ = await api.call("GET", _path(api.master.id), token=token)
    assert got["data"]["secret"] == MASKED and SECRET not in str(got)
    status, body, _ = await api.call("POST", _path(api.master.id), token=token, data=got["data"])
    assert status == 200, body
    assert (await api.store.get_settings(api.master.id))["alerts"]["secret"] == SECRET


async def test_patch_changes_only_what_it_names(api: Api, token: str) -> None:
    """PATCH keeps the keys it does not name; null unsets one."""
    path = _path(api.master.id)
    full = {"emails": ["ops@example.com"], "url": "https://a.example/x", "secret": SECRET}
    await api.call("POST", path, token=token, data=full)
    status, body, _ = await api.call("PATCH", path, token=token, data={"emails": ["n@example.com"]})
    assert status == 200, body
    assert body["data"]["url"] == "https://a.example/x" and body["data"]["secret"] == MASKED
    status, body, _ = await api.call("PATCH", path, token=token, data={"url": None})
    assert status == 200 and "url" not in body["data"]
    stored = (await api.store.get_settings(api.master.id))["alerts"]
    assert stored == {"emails": ["n@example.com"], "secret": SECRET}


async def test_validation_names_every_problem(api: Api, token: str) -> None:
    """Bad addresses, a bad URL, a short secret and an unknown key: one 400 naming each,
    the secret's value never echoed; nothing is stored."""
    status, body, _ = await api.call(
        "POST",
        _path(api.master.id),
        token=token,
        data={
            "emails": ["ok@example.com", "no-at-sign", "a@b.example\r\nBcc: x@evil.example", 7],
            "url": "ftp://a.example/",
            "secret": "short-secret",
            "email": ["typo@example.com"],
        },
    )
    assert status == 400, body
    errors = body["data"]
    assert set(errors) == {"emails.1", "emails.2", "emails.3", "url", "secret", "email"}
    assert errors["emails.1"]["format"]["message"] == "invalid e-mail address"
    assert errors["url"]["error"]["message"] == "invalid client URL"
    assert "short-secret" not in str(body)
    assert "alerts" not in await api.store.get_settings(api.master.id)


async def test_addresses_are_bounded(api: Api, token: str) -> None:
    """At most ten addresses, each at most 254 characters."""
    path = _path(api.master.id)
    many = [f"u{n}@example.com" for n in range(11)]
    status, body, _ = await api.call("POST", path, token=token, data={"emails": many})
    assert status == 400 and "maxItems" in body["data"]["emails"]
    long = "a" * 64 + "@" + ("b" * 60 + ".") * 4 + "example"
    status, body, _ = await api.call("POST", path, token=token, data={"emails": [long]})
    assert status == 400 and "maxLength" in body["data"]["emails.0"]
    status, body, _ = await api.call("POST", path, token=token, data={"emails": many[:10]})
    assert status == 200 and len(body["data"]["emails"]) == 10


async def test_url_rules_follow_hook_urls(api: Api, token: str) -> None:
    """The URL is checked as a hook's ``uri`` (loopback allowed only with private targets)."""
    path = _path(api.master.id)
    for url in ("HTTP://a.example/", "a.example/x", "http://"):
        status, body, _ = await api.call("POST", path, token=token, data={"url": url})
        assert status == 400 and "url" in body["data"], url
    status, body, _ = await api.call("POST", path, token=token, data={"url": "http://127.0.0.1:9/"})
    assert status == 200 and body["data"]["url"] == "http://127.0.0.1:9/"


async def test_parent_sets_them_for_a_sub_account(api: Api, token: str) -> None:
    """A parent may set a sub-account's alerts; a sub-account may not touch its parent's."""
    parent, parent_key = await api.sub_account("parent")
    child, child_key = await api.sub_account("child", parent.id)
    parent_token, child_token = await api.token(parent_key), await api.token(child_key)
    data = {"emails": ["child-ops@example.com"]}
    status, _, _ = await api.call("POST", _path(child.id), token=parent_token, data=data)
    assert status == 200
    _, body, _ = await api.call("GET", _path(child.id), token=child_token)
    assert body["data"]["emails"] == ["child-ops@example.com"]
    status, _, _ = await api.call("POST", _path(parent.id), token=child_token, data=data)
    assert status == 403
    assert "alerts" not in await api.store.get_settings(parent.id)


async def test_listed_in_openapi(api: Api) -> None:
    """The route is in the generated OpenAPI document, with its three methods."""
    status, body, _ = await api.call("GET", "/v2/openapi.json")
    assert status == 200
    path = body["paths"]["/v2/accounts/{account_id}/webhooks/alerts"]
    assert {"get", "post", "patch"} <= set(path)
