"""A real loopback token endpoint for the auth pre-request tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web

from tests.loopback import serving


@dataclass
class TokenServer:
    """Answers ``POST|GET /token`` with a fresh token each time and counts the calls."""

    url: str = ""
    status: int = 200
    expires_in: Any = 3600
    delay_s: float = 0.0
    hits: int = 0
    seen: list[dict[str, Any]] = field(default_factory=list)

    def token(self, n: int) -> str:
        return f"tok-{n}"


@pytest.fixture(name="token_server")
async def fixture_token_server() -> AsyncIterator[TokenServer]:
    """A loopback OAuth-like token endpoint (status, lifetime and delay settable)."""
    state = TokenServer()

    async def handle(request: web.Request) -> web.Response:
        state.hits += 1
        n = state.hits
        body = await request.read()
        state.seen.append(
            {
                "method": request.method,
                "query": dict(request.query),
                "headers": dict(request.headers),
                "body": body.decode(),
            }
        )
        if state.delay_s:
            await asyncio.sleep(state.delay_s)
        if state.status != 200:
            return web.json_response({"error": "invalid_client"}, status=state.status)
        answer: dict[str, Any] = {"access_token": state.token(n), "token_type": "Bearer"}
        if state.expires_in is not None:
            answer["expires_in"] = state.expires_in
        response = web.json_response(answer)
        response.headers["Set-Cookie"] = f"session=s{n}; Path=/; HttpOnly"
        response.headers["X-Session"] = f"hdr-{n}"
        return response

    app = web.Application()
    app.router.add_route("*", "/token", handle)
    async with serving(app) as url:
        state.url = f"{url}/token"
        yield state
