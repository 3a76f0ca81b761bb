"""Crossbar's error shapes (reference §6) and the order in which they win (§1.6)."""

from __future__ import annotations

import io
import time
from typing import Any

import orjson

from webhooksd.api import tokens
from webhooksd.store import SYSTEM

from .conftest import Api

ABSENT = "0" * 32


def error(body: dict[str, Any], status: int, message: str, data: object) -> None:
    assert body["status"] == "error"
    assert body["error"] == str(status)
    assert body["message"] == message
    assert body["data"] == data
    assert "revision" not in body


async def expired_token(api: Api) -> str:
    secret = (await api.store.get_settings(SYSTEM))["token_secret"]
    return tokens.issue(secret, api.master.id, 60, now=time.time() - 3600)


async def test_malformed_json(api: Api, token: str) -> None:
    """A body that is not JSON is 400 with the json.invalid target."""
    status, body, _ = await api.call(
        "PUT",
        f"/v2/accounts/{api.master.id}/webhooks",
        token=token,
        headers={"Content-Type": "application/json"},
        raw=b'{"data":{',
    )
    assert status == 400
    assert body["message"] == "validation error"
    invalid = body["data"]["json"]["invalid"]
    assert invalid["target"] == "body"
    assert " around " in invalid["message"]


async def test_body_without_data(api: Api, token: str) -> None:
    """A non-empty body without ``data`` is 400 data.required."""
    status, body, _ = await api.call(
        "PUT", f"/v2/accounts/{api.master.id}/webhooks", token=token, json={"name": "x"}
    )
    assert status == 400
    error(
        body,
        400,
        "validation error",
        {"data": {"required": {"message": "Field is required but missing", "value": "data"}}},
    )


async def test_missing_token(api: Api) -> None:
    """A protected route without a token is 401 invalid_credentials."""
    status, body, _ = await api.call("GET", f"/v2/accounts/{api.master.id}/webhooks")
    assert status == 401
    error(body, 401, "invalid_credentials", {"message": "invalid credentials"})


async def test_expired_token_on_public_route(api: Api) -> None:
    """An expired token is 401 with empty data even on the public catalogue."""
    expired = await expired_token(api)
    status, body, _ = await api.call("GET", "/v2/webhooks", token=expired)
    assert status == 401
    error(body, 401, "invalid credentials", {})
    assert body["auth_token"] == expired
    assert "version" not in body


async def test_garbage_token_is_anonymous_on_public_route(api: Api) -> None:
    """A token that is not ours is ignored on public routes: 200, echoed, no version."""
    status, body, _ = await api.call("GET", "/v2/webhooks", token="garbage")
    assert status == 200
    assert body["auth_token"] == "garbage"
    assert "version" not in body


async def test_garbage_token_on_protected_route(api: Api) -> None:
    """A bad-signature token counts as none on protected routes: 401."""
    good = await api.token()
    forged = good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB")
    status, body, _ = await api.call("GET", f"/v2/accounts/{api.master.id}/webhooks", token=forged)
    assert status == 401
    assert body["message"] == "invalid_credentials"


async def test_forbidden_other_tree(api: Api) -> None:
    """A token of one sub-account may not touch a sibling: 403 forbidden."""
    _, key_one = await api.sub_account("one")
    two, _ = await api.sub_account("two")
    token_one = await api.token(key_one)
    status, body, _ = await api.call("GET", f"/v2/accounts/{two.id}/webhooks", token=token_one)
    assert status == 403
    error(body, 403, "forbidden", {"message": "forbidden"})


async def test_child_may_not_manage_parent(api: Api) -> None:
    """A descendant may not manage its ancestor; the ancestor may manage it."""
    parent, parent_key = await api.sub_account("parent")
    child, child_key = await api.sub_account("child", parent.id)
    status, _, _ = await api.call(
        "GET", f"/v2/accounts/{parent.id}/webhooks", token=await api.token(child_key)
    )
    assert status == 403
    status, _, _ = await api.call(
        "GET", f"/v2/accounts/{child.id}/webhooks", token=await api.token(parent_key)
    )
    assert status == 200


async def test_non_public_webhooks_paths(api: Api, token: str) -> None:
    """Allowed-but-not-public /v2/webhooks paths are 403 with a token and 401 without."""
    for method, path in (
        ("PUT", "/v2/webhooks"),
        ("PATCH", "/v2/webhooks"),
        ("GET", f"/v2/webhooks/{ABSENT}"),
        ("GET", "/v2/webhooks/attempts"),
    ):
        status, body, _ = await api.call(method, path, token=token)
        assert (status, body["message"]) == (403, "forbidden"), path
        status, body, _ = await api.call(method, path)
        assert (status, body["message"]) == (401, "invalid_credentials"), path
    status, body, _ = await api.call("DELETE", "/v2/webhooks", token=token)
    assert (status, body["message"]) == (405, "invalid_method")


async def test_wrong_method(api: Api, token: str) -> None:
    """DELETE on the collection is 405 invalid_method."""
    status, body, _ = await api.call(
        "DELETE", f"/v2/accounts/{api.master.id}/webhooks", token=token
    )
    assert status == 405
    error(body, 405, "invalid_method", {"message": "method not allowed"})


async def test_unknown_sub_path(api: Api, token: str) -> None:
    """A deeper unknown path is 404 not_found."""
    status, body, _ = await api.call(
        "GET", f"/v2/accounts/{api.master.id}/webhooks/{ABSENT}/foo", token=token
    )
    assert status == 404
    error(body, 404, "not_found", {"message": "not found"})


async def test_short_account_id(api: Api, token: str) -> None:
    """An account id that is not 32 characters is 404 bad identifier."""
    status, body, _ = await api.call("GET", "/v2/accounts/xyz/webhooks", token=token)
    assert status == 404
    error(body, 404, "bad identifier", {"message": "invalid account_id 'xyz'"})


async def test_unknown_account(api: Api, token: str) -> None:
    """A well-formed unknown account id is 404 bad_identifier with the cause."""
    status, body, _ = await api.call("GET", f"/v2/accounts/{ABSENT}/webhooks", token=token)
    assert status == 404
    error(body, 404, "bad_identifier", {"cause": ABSENT, "message": "bad identifier"})


async def test_unknown_hook(api: Api, token: str) -> None:
    """An unknown hook id is 404 bad_identifier with the hook id as cause."""
    status, body, _ = await api.call(
        "GET", f"/v2/accounts/{api.master.id}/webhooks/{ABSENT}", token=token
    )
    assert status == 404
    error(body, 404, "bad_identifier", {"cause": ABSENT, "message": "bad identifier"})


async def test_unknown_sample(api: Api) -> None:
    """An unknown sample id is 404 with the id in an array."""
    status, body, _ = await api.call("GET", "/v2/webhooks/samples/nope")
    assert status in (404, 503)
    if status == 404:
        error(body, 404, "bad identifier", ["nope"])


async def test_sample_path_traversal(api: Api) -> None:
    """A sample id that names a file outside the whitelist is refused."""
    status, _, _ = await api.call("GET", "/v2/webhooks/samples/..%2Fwebhooks.schema")
    assert status in (404, 503)


async def test_invalid_page_size(api: Api, token: str) -> None:
    """A bad page_size is 404 faulty_request."""
    path = f"/v2/accounts/{api.master.id}/webhooks"
    status, body, _ = await api.call("GET", f"{path}?page_size=abc", token=token)
    error(body, 404, "faulty_request", {"message": "invalid page size"})
    status, body, _ = await api.call("GET", f"{path}?page_size=0", token=token)
    assert status == 404
    error(body, 404, "faulty_request", {"message": "page size must be at least 1"})


async def test_retries_bounds_and_verb(api: Api, token: str) -> None:
    """retries 5, retries -1 and http_verb delete give Kazoo's exact errors."""
    path = f"/v2/accounts/{api.master.id}/webhooks"
    base = {"name": "n", "uri": "http://example.com/h", "hook": "channel_create"}
    cases = (
        (
            {"retries": 5},
            {
                "retries": {
                    "maximum": {"message": "Value must be at most 4", "target": 4, "value": 5}
                }
            },
        ),
        (
            {"retries": -1},
            {
                "retries": {
                    "minimum": {"message": "Value must be at least 0", "target": 0, "value": -1}
                }
            },
        ),
        (
            {"http_verb": "delete"},
            {
                "http_verb": {
                    "enum": {
                        "message": "Value not found in enumerated list of values",
                        "target": ["get", "post", "put"],
                        "value": "delete",
                    }
                }
            },
        ),
    )
    for extra, expected in cases:
        status, body, _ = await api.call("PUT", path, token=token, data={**base, **extra})
        assert status == 400
        error(body, 400, "validation error", expected)


async def test_duplicate_id_conflict(api: Api, token: str) -> None:
    """A client-supplied id that exists is 409 datastore_conflict."""
    path = f"/v2/accounts/{api.master.id}/webhooks"
    doc = {"id": "a" * 32, "name": "n", "uri": "http://example.com/h", "hook": "channel_create"}
    status, _, _ = await api.call("PUT", path, token=token, data=doc)
    assert status == 201
    status, body, _ = await api.call("PUT", path, token=token, data=doc)
    assert status == 409
    error(body, 409, "datastore_conflict", {"message": "conflicting documents"})


async def test_body_too_large(api: Api, token: str) -> None:
    """A body over 1 MiB is 413 in Crossbar's envelope."""
    big = orjson.dumps({"data": {"name": "x" * (1024 * 1024 + 10), "uri": "http://e.com/"}})
    status, body, headers = await api.call(
        "PUT",
        f"/v2/accounts/{api.master.id}/webhooks",
        token=token,
        headers={"Content-Type": "application/json"},
        raw=io.BytesIO(big),  # type: ignore[arg-type]
    )
    assert status == 413
    assert body["status"] == "error"
    assert body["error"] == "413"
    assert headers["Content-Type"] == "application/json"


# -- precedence (§1.6) ---------------------------------------------------------------------


async def test_bad_json_beats_missing_token(api: Api) -> None:
    """Body parsing (400) comes before authentication (401)."""
    status, _, _ = await api.call(
        "PUT",
        f"/v2/accounts/{api.master.id}/webhooks",
        headers={"Content-Type": "application/json"},
        raw=b"{nope",
    )
    assert status == 400


async def test_expired_token_beats_unknown_path(api: Api) -> None:
    """An expired token (401) comes before the unknown path (404)."""
    status, body, _ = await api.call("GET", "/v2/nothing/here", token=await expired_token(api))
    assert (status, body["message"]) == (401, "invalid credentials")


async def test_unknown_path_beats_missing_token(api: Api) -> None:
    """The unknown path (404) comes before the missing token (401)."""
    status, body, _ = await api.call("GET", f"/v2/accounts/{api.master.id}/webhooks/x/y/z")
    assert (status, body["message"]) == (404, "not_found")


async def test_wrong_method_beats_bad_account(api: Api) -> None:
    """The method (405) is checked before the account id (404)."""
    status, body, _ = await api.call("DELETE", "/v2/accounts/xyz/webhooks")
    assert (status, body["message"]) == (405, "invalid_method")


async def test_bad_account_beats_missing_token(api: Api) -> None:
    """The account check (404) comes before authentication (401)."""
    status, body, _ = await api.call("GET", f"/v2/accounts/{ABSENT}/webhooks")
    assert (status, body["message"]) == (404, "bad_identifier")


async def test_forbidden_beats_validation(api: Api) -> None:
    """Authorization (403) comes before the body's validation (400)."""
    _, key = await api.sub_account("one")
    other, _ = await api.sub_account("two")
    status, body, _ = await api.call(
        "PUT", f"/v2/accounts/{other.id}/webhooks", token=await api.token(key), data={}
    )
    assert (status, body["message"]) == (403, "forbidden")


async def test_validation_beats_unknown_hook_on_post(api: Api, token: str) -> None:
    """On POST the schema error (400) wins over the unknown hook id (404), as in Kazoo."""
    status, _, _ = await api.call(
        "POST", f"/v2/accounts/{api.master.id}/webhooks/{ABSENT}", token=token, data={}
    )
    assert status == 400
