"""Hostile or malformed input is a Crossbar 4xx in the envelope, never a 500 or a dropped
connection (issue 13)."""

from __future__ import annotations

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
