"""Auth headers and the cached token pre-request, against a real loopback token endpoint."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs

import pytest

from webhooksd.config import load
from webhooksd.delivery.hookauth import AUTH_FAILED, HookAuth
from webhooksd.delivery.sender import Sender
from webhooksd.transforms import AuthSpec, compile_hook_transforms

from .conftest import TokenServer


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(name="sender")
async def fixture_sender() -> AsyncIterator[Sender]:
    """The daemon's sender (SSRF guard on, loopback allowed for the test endpoint)."""
    async with Sender.open(load(environ={}).replace(allow_private_targets=True)) as sender:
        yield sender


@pytest.fixture(name="clock")
def fixture_clock() -> Clock:
    """A hand-moved clock for token expiry."""
    return Clock()


@pytest.fixture(name="auth")
def fixture_auth(sender: Sender, clock: Clock) -> HookAuth:
    """HookAuth fetching through the sender, on the hand-moved clock."""
    return HookAuth(sender.send, clock=clock)


def _spec(auth: dict[str, Any]) -> AuthSpec:
    spec = compile_hook_transforms({"auth": auth}).auth
    assert spec is not None
    return spec


async def test_basic_and_bearer(auth: HookAuth) -> None:
    """basic is base64(user:password); bearer is the token; neither calls anything."""
    basic = await auth.resolve("h", _spec({"type": "basic", "username": "ü", "password": "p:w"}))
    assert basic.headers == {
        "Authorization": "Basic " + base64.b64encode("ü:p:w".encode()).decode()
    }
    bearer = await auth.resolve("h", _spec({"type": "bearer", "token": "abc"}))
    assert bearer.headers == {"Authorization": "Bearer abc"}
    assert (await auth.resolve("h", None)).headers == {}


async def test_token_is_fetched_once_then_cached_until_expiry(
    auth: HookAuth, token_server: TokenServer, clock: Clock
) -> None:
    """Several deliveries share one token; after expires_in a new one is fetched."""
    token_server.expires_in = 100
    spec = _spec(
        {
            "type": "token",
            "url": token_server.url,
            "params": {"grant_type": "client_credentials", "client_secret": "s"},
            "headers": {"X-Tenant": "7"},
        }
    )
    for _ in range(5):
        result = await auth.resolve("h1", spec)
        assert result.failure is None
        assert result.headers == {"Authorization": "Bearer tok-1"}
    assert token_server.hits == 1
    seen = token_server.seen[0]
    assert seen["method"] == "POST"
    assert parse_qs(seen["body"]) == {"grant_type": ["client_credentials"], "client_secret": ["s"]}
    assert seen["headers"]["X-Tenant"] == "7"
    clock.now += 89  # refreshed 10 % (at most 30 s) before it expires
    assert (await auth.resolve("h1", spec)).headers["Authorization"] == "Bearer tok-1"
    clock.now += 2
    assert (await auth.resolve("h1", spec)).headers["Authorization"] == "Bearer tok-2"
    assert token_server.hits == 2


async def test_ttl_used_without_expires_in(
    auth: HookAuth, token_server: TokenServer, clock: Clock
) -> None:
    """Without expires_in the configured ttl_s decides when to refresh."""
    token_server.expires_in = None
    spec = _spec({"type": "token", "url": token_server.url, "ttl_s": 10})
    await auth.resolve("h", spec)
    clock.now += 8.9
    await auth.resolve("h", spec)
    assert token_server.hits == 1
    clock.now += 0.2
    await auth.resolve("h", spec)
    assert token_server.hits == 2


async def test_cache_is_per_hook_and_per_configuration(
    auth: HookAuth, token_server: TokenServer
) -> None:
    """Another hook, or a changed auth configuration, fetches its own token."""
    spec = _spec({"type": "token", "url": token_server.url})
    await auth.resolve("h1", spec)
    await auth.resolve("h2", spec)
    other = _spec({"type": "token", "url": token_server.url, "params": {"scope": "x"}})
    await auth.resolve("h1", other)
    assert token_server.hits == 3


async def test_one_refresh_at_a_time(auth: HookAuth, token_server: TokenServer) -> None:
    """Twenty concurrent deliveries of one hook wait for a single token request."""
    token_server.delay_s = 0.1
    spec = _spec({"type": "token", "url": token_server.url})
    results = await asyncio.gather(*(auth.resolve("h", spec) for _ in range(20)))
    assert token_server.hits == 1
    assert {r.headers["Authorization"] for r in results} == {"Bearer tok-1"}


@pytest.mark.parametrize(("status", "kind"), [(401, "final"), (503, "retryable"), (410, "final")])
async def test_failed_pre_request(
    auth: HookAuth, token_server: TokenServer, status: int, kind: str
) -> None:
    """A refused token request is a failure (retryable only when the status is) and is not
    cached; 410 from the token endpoint never counts as the hook's own 410."""
    token_server.status = status
    spec = _spec({"type": "token", "url": token_server.url})
    result = await auth.resolve("h", spec)
    assert result.failure is not None
    assert result.failure.kind == kind
    assert result.failure.reason == AUTH_FAILED
    assert result.failure.client_error == f"auth_failed: status {status}"
    assert result.failure.status is None
    token_server.status = 200
    assert (await auth.resolve("h", spec)).headers == {"Authorization": "Bearer tok-2"}


async def test_answer_without_the_token_fails(auth: HookAuth, token_server: TokenServer) -> None:
    """set_headers naming a field the answer lacks is a final failure, not an empty header."""
    spec = _spec(
        {"type": "token", "url": token_server.url, "set_headers": {"X-Token": "${id_token}"}}
    )
    result = await auth.resolve("h", spec)
    assert result.failure is not None and result.failure.kind == "final"
    assert "id_token" in (result.failure.client_error or "")


async def test_unreachable_token_endpoint_is_retryable(auth: HookAuth) -> None:
    """A refused connection to the token URL is a retryable failure."""
    spec = _spec({"type": "token", "url": "http://127.0.0.1:9/token"})
    result = await auth.resolve("h", spec)
    assert result.failure is not None and result.failure.kind == "retryable"


async def test_ssrf_guard_applies_to_the_token_url(token_server: TokenServer) -> None:
    """Without allow_private_targets the pre-request to loopback is blocked, not sent."""
    async with Sender.open(load(environ={})) as guarded:
        auth = HookAuth(guarded.send)
        result = await auth.resolve("h", _spec({"type": "token", "url": token_server.url}))
    assert result.failure is not None and "ssrf_blocked" in (result.failure.client_error or "")
    assert token_server.hits == 0


async def test_webitel_shape(auth: HookAuth, token_server: TokenServer) -> None:
    """Webitel's auth: GET with map as the query, answer fields and headers as variables,
    and the session cookie forwarded."""
    spec = _spec(
        {
            "enabled": True,
            "url": token_server.url,
            "map": {"login": "me", "password": "pw"},
            "headers": {"X-App": "crm"},
            "cookie": True,
        }
    )
    result = await auth.resolve("h", spec)
    assert result.failure is None
    seen = token_server.seen[0]
    assert (seen["method"], seen["query"]) == ("GET", {"login": "me", "password": "pw"})
    assert result.headers == {"Cookie": "session=s1"}
    assert result.variables["auth:body:access_token"] == "tok-1"
    assert result.variables["auth:body:expires_in"] == "3600"
    assert result.variables["auth:header:x-session"] == "hdr-1"
    assert result.variables["auth:header:session"] == "s1"


async def test_json_post_body(auth: HookAuth, token_server: TokenServer) -> None:
    """format json posts the params as a JSON object."""
    spec = _spec({"type": "token", "url": token_server.url, "format": "json", "params": {"a": "1"}})
    await auth.resolve("h", spec)
    seen = token_server.seen[0]
    assert json.loads(seen["body"]) == {"a": "1"}
    assert seen["headers"]["Content-Type"] == "application/json"
