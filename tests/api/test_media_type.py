"""A body of a type Crossbar does not read is refused in Crossbar's envelope (issue 12: the
415 used to escape the envelope as aiohttp's plain-text page)."""

from __future__ import annotations

import pytest

from webhooksd.api.envelope import node_hash

from .conftest import Api

HOOK_BODY = b'{"data": {"name": "n", "uri": "http://example.com/h", "hook": "channel_create"}}'


@pytest.mark.parametrize("method", ["PUT", "POST"])
async def test_non_json_content_type_is_415_in_the_envelope(
    api: Api, token: str, method: str
) -> None:
    path = f"/v2/accounts/{api.master.id}/webhooks"
    if method == "POST":
        path += "/no-such-hook"
    status, body, headers = await api.call(
        method, path, token=token, headers={"Content-Type": "text/plain"}, raw=HOOK_BODY
    )
    assert status == 415
    assert headers["Content-Type"] == "application/json"
    assert body["status"] == "error"
    assert body["error"] == "415"
    assert body["message"] == "unsupported_media_type"
    assert body["data"] == {"message": "unsupported media type", "cause": "text/plain"}
    assert body["request_id"] == headers["X-Request-ID"]
    assert body["node"] == node_hash("webhooksd@test")
