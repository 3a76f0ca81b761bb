"""Hostile or malformed input is a Crossbar 4xx in the envelope, never a 500 or a dropped
connection (issue 13)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from .conftest import Api

HOOK = {"name": "n", "uri": "http://hooks.example.com/in", "hook": "channel_create"}


def _hooks(api: Api) -> str:
    return f"/v2/accounts/{api.master.id}/webhooks"


@pytest.mark.parametrize(
    "uri",
    [
        "http://a b.example/in",
        "http://hooks.example.com:65536/in",
        "http://hooks.example.com:99999999/in",
        "http://hooks\x00.example.com/in",
        "http://hooks.example.com%0d%0a/in",
    ],
)
async def test_malformed_urls_are_refused(api: Api, token: str, uri: str) -> None:
    """A space or control character in the host, or a port above 65535, is 400 on uri."""
    status, body, _ = await api.call("PUT", _hooks(api), token=token, data={**HOOK, "uri": uri})
    assert (status, body["message"]) == (400, "validation error"), body
    assert "uri" in body["data"]


async def test_uppercase_scheme_is_accepted_and_normalised(api: Api, token: str) -> None:
    """Schemes are case-insensitive: ``HTTP://`` is stored as ``http://``."""
    data = {**HOOK, "uri": "HTTP://hooks.example.com/In"}
    status, body, _ = await api.call("PUT", _hooks(api), token=token, data=data)
    assert status == 201, body
    assert body["data"]["uri"] == "http://hooks.example.com/In"


@pytest.mark.parametrize("name", ["X-Bad\r\nInjected", "X Space", "X:Colon", "", "Ünï"])
async def test_header_names_must_be_tokens(api: Api, token: str, name: str) -> None:
    """A custom header name that is not an HTTP token is refused at save (it was accepted,
    then every delivery failed)."""
    data: dict[str, Any] = {**HOOK, "custom_request_headers": {name: "v", "X-Ok": "v"}}
    status, body, _ = await api.call("PUT", _hooks(api), token=token, data=data)
    assert (status, body["message"]) == (400, "validation error"), body
    assert list(body["data"]) == [f"custom_request_headers.{name}"]


@pytest.mark.parametrize(
    "value",
    [
        str(2**63),
        str(2**64 + 5),
        "9" * 5000,
        "-5",
        "0",
        "1.5",
        "abc",
        "\uff11\uff12\uff13",
        " 12e3",
    ],
)
@pytest.mark.parametrize("name", ["created_from", "created_to"])
async def test_attempt_time_bounds_are_checked(api: Api, token: str, name: str, value: str) -> None:
    """A bound above year 9999 (2^63 was a 500), negative, zero or not a whole number is a
    400 naming the parameter, on the account's and on a hook's attempts."""
    for path in (
        f"/v2/accounts/{api.master.id}/webhooks/attempts",
        f"/v2/accounts/{api.master.id}/webhooks/{'a' * 32}/attempts",
    ):
        status, body, _ = await api.call("GET", path, token=token, params={name: value})
        if status == 404:  # the hook does not exist: its attempts are not looked at
            continue
        assert (status, body["message"]) == (400, "validation error"), (path, body)
        assert list(body["data"]) == [name]


@pytest.mark.parametrize("name", ["created_from", "modified_to"])
async def test_listing_range_filters_are_checked(api: Api, token: str, name: str) -> None:
    """The same bounds used as listing filters never make a 500."""
    for value in (str(2**64), "x", "-1"):
        status, body, _ = await api.call("GET", _hooks(api), token=token, params={name: value})
        assert status in (200, 400), body


def _nested(levels: int) -> str:
    """JSON nesting ``levels`` lists (written by hand: encoders stop at a few hundred)."""
    return "[" * levels + '"x"' + "]" * levels


@pytest.mark.parametrize("levels", [33, 300, 1000, 5000])
async def test_deep_nesting_is_a_clear_400(api: Api, token: str, levels: int) -> None:
    """Hundreds of levels in a hook or an account field (a 500 before) are a 400 naming
    ``data``; from 1,024 levels on orjson refuses the JSON itself (also a 400)."""
    deep = _nested(levels)
    hook = (
        '{"data": {"name": "n", "uri": "http://hooks.example.com/in", "hook": "channel_create",'
        f' "custom_data": {{"deep": {deep}}}}}}}'
    )
    account = f'{{"data": {{"name": "deep", "ui_flags": {deep}}}}}'
    headers = {"Content-Type": "application/json"}
    for method, path, raw in (
        ("PUT", _hooks(api), hook),
        ("PUT", f"/v2/accounts/{api.master.id}", account),
        ("PATCH", f"/v2/accounts/{api.master.id}", account),
    ):
        status, body, _ = await api.call(
            method, path, token=token, raw=raw.encode(), headers=headers
        )
        assert status == 400, (method, path, levels, body)
        assert body["status"] == "error"
        if levels < 1000:
            assert body["data"] == {
                "data": {"depth": {"message": "nested deeper than 32 levels", "cause": 32}}
            }


async def test_moderate_nesting_is_kept(api: Api, token: str) -> None:
    data = {**HOOK, "custom_data": {}, "name": "ok"}
    status, body, _ = await api.call("PUT", _hooks(api), token=token, data=data)
    assert status == 201, body
    status, body, _ = await api.call(
        "PATCH", f"/v2/accounts/{api.master.id}", token=token, data={"ui_flags": [[[[["x"]]]]]}
    )
    assert status == 200, body


async def test_deep_nesting_on_the_webitel_face(api: Api, token: str) -> None:
    """The Webitel face answers its own 400 shape for a deeply nested body."""
    raw = f'{{"event": "CHANNEL_CREATE", "map": {_nested(500)}}}'.encode()
    resp = await api.client.post(
        "/api/v2/hooks",
        params={"domain": "master"},
        headers={"X-Access-Token": token, "Content-Type": "application/json"},
        data=raw,
    )
    assert resp.status == 400
    assert "deeper than 32" in (await resp.json())["info"]


@pytest.mark.parametrize("hook_id", ["attempts", "samples", "health", "alerts"])
async def test_route_segments_are_not_hook_ids(api: Api, token: str, hook_id: str) -> None:
    """An id that is a literal path under /webhooks/ is refused at create (such a hook could
    not be read, edited or deleted there); one stored earlier is deleted on the Webitel face."""
    data = {**HOOK, "id": hook_id}
    status, body, _ = await api.call("PUT", _hooks(api), token=token, data=data)
    assert (status, body["message"]) == (400, "validation error"), body
    assert "reserved" in body["data"]["id"]
    status, _, _ = await api.call("PUT", _hooks(api), token=token, data={**HOOK, "id": "ok-id"})
    assert status == 201
    stored = await api.store.get_hook("ok-id")
    assert stored is not None
    await api.store.create_hook(replace(stored, id=hook_id))
    resp = await api.client.delete(
        f"/api/v2/hooks/{hook_id}",
        params={"domain": "master"},
        headers={"X-Access-Token": token},
    )
    assert resp.status == 200, await resp.text()
    assert await api.store.get_hook(hook_id) is None


@pytest.mark.parametrize("hook_id", ["a\x00b", "line\r\nbreak", "tab\there", "del\x7f", "."])
async def test_control_characters_in_ids_are_a_400(api: Api, token: str, hook_id: str) -> None:
    """An id with NUL (the connection was dropped) or another control character is a 400 in
    the envelope; such an id in the URL is a 404."""
    data = {**HOOK, "id": hook_id}
    status, body, _ = await api.call("PUT", _hooks(api), token=token, data=data)
    assert (status, body["message"]) == (400, "validation error"), body
    assert list(body["data"]) == ["id"]
    status, body, _ = await api.call("GET", f"{_hooks(api)}/a%00b", token=token)
    assert (status, body["message"]) == (404, "bad_identifier"), body
