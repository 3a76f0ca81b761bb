"""Kazoo 5's ``version`` and ``security_settings.sha256_key`` through the API: validated as
Kazoo 5's schema has them, the key shown masked like ``secret`` and kept by every write that
does not change it."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import Api

KEY = "a-sha256-key-the-receiver-knows"
MASKED = "…" + KEY[-4:]
HOOK = {
    "name": "v2 calls",
    "uri": "http://hooks.example.com/v2",
    "hook": "channel_create",
    "version": "v2",
    "format": "json",
    "security_settings": {"sha256_key": KEY},
}


@pytest.fixture(name="hooks_path")
def fixture_hooks_path(api: Api) -> str:
    return f"/v2/accounts/{api.master.id}/webhooks"


async def _create(api: Api, token: str, path: str, **fields: Any) -> dict[str, Any]:
    status, body, _ = await api.call("PUT", path, token=token, data={**HOOK, **fields})
    assert status == 201, body
    return dict(body["data"])


async def _stored_key(api: Api, hook_id: str) -> Any:
    stored = await api.store.get_hook(hook_id)
    assert stored is not None
    return stored.doc.get("security_settings", {}).get("sha256_key")


async def test_key_is_stored_and_shown_masked(api: Api, token: str, hooks_path: str) -> None:
    """PUT answers, GET and the listing filters see the key masked; the store has it whole."""
    data = await _create(api, token, hooks_path)
    assert data["version"] == "v2"
    assert data["security_settings"] == {"sha256_key": MASKED}
    assert await _stored_key(api, data["id"]) == KEY
    status, got, _ = await api.call("GET", f"{hooks_path}/{data['id']}", token=token)
    assert status == 200 and got["data"]["security_settings"] == {"sha256_key": MASKED}
    status, listing, _ = await api.call("GET", hooks_path, token=token)
    assert status == 200 and KEY not in str(listing)


async def test_writes_that_do_not_change_the_key_keep_it(
    api: Api, token: str, hooks_path: str
) -> None:
    """A PATCH of another field, a PATCH and a POST carrying the masked key back: all keep it;
    a new key replaces it; ``null`` removes the settings."""
    data = await _create(api, token, hooks_path)
    path = f"{hooks_path}/{data['id']}"
    status, _, _ = await api.call("PATCH", path, token=token, data={"name": "renamed"})
    assert status == 200 and await _stored_key(api, data["id"]) == KEY
    patch = {"security_settings": {"sha256_key": MASKED}}
    status, _, _ = await api.call("PATCH", path, token=token, data=patch)
    assert status == 200 and await _stored_key(api, data["id"]) == KEY
    _, got, _ = await api.call("GET", path, token=token)
    status, _, _ = await api.call("POST", path, token=token, data=got["data"])
    assert status == 200 and await _stored_key(api, data["id"]) == KEY
    patch = {"security_settings": {"sha256_key": "another-key"}}
    status, _, _ = await api.call("PATCH", path, token=token, data=patch)
    assert status == 200 and await _stored_key(api, data["id"]) == "another-key"
    status, _, _ = await api.call("PATCH", path, token=token, data={"security_settings": None})
    stored = await api.store.get_hook(data["id"])
    assert status == 200 and stored is not None and "security_settings" not in stored.doc


async def test_a_mask_of_another_key_is_refused(api: Api, token: str, hooks_path: str) -> None:
    """A masked value that is not this hook's key cannot be turned back into a key: 400."""
    data = await _create(api, token, hooks_path)
    patch = {"security_settings": {"sha256_key": "…zzzz"}}
    status, body, _ = await api.call("PATCH", f"{hooks_path}/{data['id']}", token=token, data=patch)
    assert status == 400, body
    assert "invalid" in body["data"]["security_settings.sha256_key"]
    assert await _stored_key(api, data["id"]) == KEY


@pytest.mark.parametrize(
    ("fields", "key", "code"),
    [
        ({"version": "v3"}, "version", "enum"),
        ({"version": 2}, "version", "type"),
        ({"security_settings": "key"}, "security_settings", "type"),
        ({"security_settings": {"sha256_key": 123}}, "security_settings.sha256_key", "type"),
        (
            {"security_settings": {"sha256_key": "k" * 513}},
            "security_settings.sha256_key",
            "maxLength",
        ),
    ],
)
async def test_bad_values_are_refused_without_echoing_the_key(
    api: Api, token: str, hooks_path: str, fields: dict[str, Any], key: str, code: str
) -> None:
    """Kazoo 5's schema (``version`` enum, ``sha256_key`` a string) plus a length bound; an
    error on the key never repeats the value sent."""
    status, body, _ = await api.call("PUT", hooks_path, token=token, data={**HOOK, **fields})
    assert status == 400, body
    assert code in body["data"][key], body
    if key.startswith("security_settings"):
        assert "value" not in body["data"][key][code]
        assert "k" * 513 not in str(body)


async def test_version_defaults_to_v1(api: Api, token: str, hooks_path: str) -> None:
    """Without ``version`` a hook is ``v1``, as Kazoo 5's schema default."""
    fields = {k: v for k, v in HOOK.items() if k not in ("version", "security_settings")}
    status, body, _ = await api.call("PUT", hooks_path, token=token, data=fields)
    assert status == 201 and body["data"]["version"] == "v1"


async def test_no_value_filter_on_the_key(api: Api, token: str, hooks_path: str) -> None:
    """``filter_security_settings.sha256_key=<guess>`` would confirm a guess: refused."""
    await _create(api, token, hooks_path)
    path = f"{hooks_path}?filter_security_settings.sha256_key={KEY}"
    status, body, _ = await api.call("GET", path, token=token)
    assert status == 400, body
