"""Every validation error of the transforms, with its dotted key, and the auth shapes."""

from __future__ import annotations

from typing import Any

import pytest

from webhooksd.transforms import (
    BasicAuth,
    BearerAuth,
    TokenAuth,
    TransformError,
    compile_hook_transforms,
)
from webhooksd.transforms.authspec import mask_auth, mask_value, restore_auth

TOKEN_URL = "https://idp.example.com/token"

ERRORS: list[tuple[dict[str, Any], str, str]] = [
    # body_template
    ({"body_template": 5}, "body_template", "must be a string"),
    ({"body_template": "x" * 16_385}, "body_template", "longer than"),
    ({"body_template": "${a"}, "body_template", "not closed"),
    ({"body_template": "${}"}, "body_template", "is empty"),
    ({"body_template": "${a..b}"}, "body_template", "empty segment"),
    ({"body_template": "${a b}"}, "body_template", "may not contain"),
    ({"body_template": "${" + "a." * 40 + "a}"}, "body_template", "more than 32 segments"),
    ({"body_template": "${" + "a" * 300 + "}"}, "body_template", "longer than 256"),
    ({"body_template": "${auth:body:t}"}, "body_template", "only be used in custom_request"),
    ({"body_template": "x", "http_verb": "get"}, "body_template", "GET request has no body"),
    ({"body_template": '{"a": ${a}', "format": "json"}, "body_template", "not valid JSON"),
    # custom_request_headers
    ({"custom_request_headers": {"X-A": "${a"}}, "custom_request_headers.X-A", "not closed"),
    ({"custom_request_headers": {"X-A": "a\r\nB: c"}}, "custom_request_headers.X-A", "span"),
    ({"custom_request_headers": {"X-A": "${auth:x}"}}, "custom_request_headers.X-A", "auth:"),
    ({"custom_request_headers": {"X-A": 7}}, "custom_request_headers.X-A", "must be a string"),
    # filter, ours
    ({"filter": "x"}, "filter", "list of conditions"),
    ({"filter": [{"field": "a", "eq": 1}] * 51}, "filter", "at most 50"),
    ({"filter": ["x"]}, "filter.0", "must be an object"),
    ({"filter": [{"eq": 1}]}, "filter.0.field", "non-empty string"),
    ({"filter": [{"field": ""}]}, "filter.0", "needs an operator"),
    ({"filter": [{"field": "a", "like": 1}]}, "filter.0.like", "unknown operator"),
    ({"filter": [{"field": "a", "regex": "("}]}, "filter.0.regex", "bad regular expression"),
    ({"filter": [{"field": "a", "regex": 5}]}, "filter.0.regex", "must be a string"),
    ({"filter": [{"field": "a", "regex": "a" * 1001}]}, "filter.0.regex", "longer than"),
    ({"filter": [{"field": "a", "exists": "yes"}]}, "filter.0.exists", "true or false"),
    ({"filter": [{"field": "a", "in": []}]}, "filter.0.in", "list of 1 to 100"),
    ({"filter": [{"field": "a", "not_in": "x"}]}, "filter.0.not_in", "list of 1 to 100"),
    ({"filter": [{"field": "a", "in": [{"x": 1}]}]}, "filter.0.in", "strings, numbers"),
    ({"filter": [{"field": "a", "gt": True}]}, "filter.0.gt", "number or a string"),
    ({"filter": [{"field": "a", "lte": [1]}]}, "filter.0.lte", "number or a string"),
    # filter, Webitel's
    ({"filter": {"a b": {"operation": "=="}}}, "filter.a b", "may not contain"),
    ({"filter": {"a": "x"}}, "filter.a", "Webitel filter entry"),
    ({"filter": {"a": {"operation": "~"}}}, "filter.a.operation", "unknown operation"),
    ({"filter": {"a": {"operation": "reg", "value": "/(/"}}}, "filter.a.value", "regular"),
    ({"filter": {f"k{i}": {"operation": "==", "value": 1} for i in range(51)}}, "filter", "50"),
    # fields and map
    ({"fields": "call_id"}, "fields", "list of at most 100"),
    ({"fields": ["a"] * 101}, "fields", "list of at most 100"),
    ({"fields": ["ok", 3]}, "fields.1", "non-empty string"),
    ({"fields": ["a..b"]}, "fields.0", "empty segment"),
    ({"map": ["a"]}, "map", "object of at most 50"),
    ({"map": {"a": ""}}, "map.a", "non-empty string"),
    ({"map": {"a{": "b"}}, "map.a{", "may not contain"),
    ({"map": {"a": "c", "b": "c"}}, "map.b", "renamed to 'c' as well"),
    # auth
    ({"auth": "basic"}, "auth", "must be an object"),
    ({"auth": {"type": "digest"}}, "auth.type", "must be one of basic, bearer, token"),
    ({"auth": {"type": "bearer", "token": "t", "x": 1}}, "auth.x", "not a field of bearer"),
    ({"auth": {"type": "bearer"}}, "auth.token", "non-empty string"),
    ({"auth": {"type": "basic", "username": "u"}}, "auth.password", "non-empty string"),
    ({"auth": {"type": "bearer", "token": "…abcd"}}, "auth.token", "masked value"),
    ({"auth": {"type": "token"}}, "auth.url", "non-empty string"),
    ({"auth": {"type": "token", "url": TOKEN_URL, "method": "put"}}, "auth.method", "one of"),
    ({"auth": {"type": "token", "url": TOKEN_URL, "format": "xml"}}, "auth.format", "one of"),
    ({"auth": {"type": "token", "url": TOKEN_URL, "params": []}}, "auth.params", "object"),
    (
        {"auth": {"type": "token", "url": TOKEN_URL, "params": {"a": {}}}},
        "auth.params.a",
        "must be a string",
    ),
    (
        {"auth": {"type": "token", "url": TOKEN_URL, "params": {"secret": "…1234"}}},
        "auth.params.secret",
        "masked value",
    ),
    ({"auth": {"type": "token", "url": TOKEN_URL, "set_headers": {}}}, "auth.set_headers", "1"),
    (
        {"auth": {"type": "token", "url": TOKEN_URL, "set_headers": {"A": "${x"}}},
        "auth.set_headers.A",
        "not closed",
    ),
    ({"auth": {"type": "token", "url": TOKEN_URL, "ttl_s": 0}}, "auth.ttl_s", "integer"),
    ({"auth": {"type": "token", "url": TOKEN_URL, "cookie": "y"}}, "auth.cookie", "true or"),
    ({"auth": {"enabled": True}}, "auth.url", "non-empty string"),
    ({"auth": {"enabled": True, "url": TOKEN_URL, "method": "DELETE"}}, "auth.method", "one of"),
]


@pytest.mark.parametrize(("doc", "field", "message"), ERRORS)
def test_error(doc: dict[str, Any], field: str, message: str) -> None:
    """Each invalid document is refused with the problem under its dotted key."""
    with pytest.raises(TransformError) as caught:
        compile_hook_transforms(doc)
    keyed = dict(caught.value.problems[::-1])  # the first problem per key wins
    assert field in keyed, caught.value.problems
    assert message in keyed[field]


def test_every_problem_is_reported() -> None:
    """Problems in several parts of one document are all listed, in document order."""
    with pytest.raises(TransformError) as caught:
        compile_hook_transforms(
            {"filter": [{"field": "a", "regex": "("}], "fields": [""], "body_template": "${"}
        )
    assert [field for field, _ in caught.value.problems] == [
        "filter.0.regex",
        "fields.0",
        "body_template",
    ]
    assert caught.value.field == "filter.0.regex"


def test_auth_shapes() -> None:
    """basic, bearer, token (with defaults) and Webitel's shape compile to their specs."""
    assert compile_hook_transforms(
        {"auth": {"type": "basic", "username": "u", "password": "p"}}
    ).auth == BasicAuth(username="u", password="p")
    assert compile_hook_transforms({"auth": {"type": "bearer", "token": "t"}}).auth == (
        BearerAuth(token="t")
    )
    token = compile_hook_transforms({"auth": {"type": "token", "url": TOKEN_URL}}).auth
    assert isinstance(token, TokenAuth)
    assert (token.method, token.format, token.ttl_s) == ("POST", "form-data", 300)
    assert [name for name, _ in token.set_headers] == ["Authorization"]
    webitel = compile_hook_transforms(
        {"auth": {"enabled": True, "url": TOKEN_URL, "map": {"login": "me"}, "cookie": True}}
    ).auth
    assert isinstance(webitel, TokenAuth)
    assert (webitel.method, webitel.format, webitel.params, webitel.set_headers) == (
        "GET",
        "json",
        (("login", "me"),),
        (),
    )
    assert webitel.cookie
    off = {"auth": {"headers": {}, "map": {}, "enabled": False}}
    assert compile_hook_transforms(off).auth is None


def test_mask_and_restore() -> None:
    """Secrets are masked (last four only for long ones) and masked values restore."""
    stored = {
        "type": "token",
        "url": TOKEN_URL,
        "params": {"client_id": "me", "client_secret": "s3cr3t-0123456789"},
        "headers": {"X-Key": "short"},
        "set_headers": {"Authorization": "Bearer ${access_token}"},
    }
    shown = mask_auth(stored)
    assert shown["params"] == {"client_id": "…", "client_secret": "…6789"}
    assert shown["headers"] == {"X-Key": "…"}
    assert shown["url"] == TOKEN_URL and shown["set_headers"] == stored["set_headers"]
    assert restore_auth(shown, stored) == stored
    changed = {**shown, "params": {**shown["params"], "client_id": "you"}}
    assert restore_auth(changed, stored)["params"]["client_id"] == "you"
    assert mask_value("p") == "…"
    basic = {"type": "basic", "username": "u", "password": "pw"}
    assert mask_auth(basic) == {"type": "basic", "username": "u", "password": "…"}
    assert restore_auth(mask_auth(basic), basic) == basic
