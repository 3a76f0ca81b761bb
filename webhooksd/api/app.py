"""The API server (Kazoo's ``crossbar`` application, for the webhooks resources).

:func:`create_app` builds the aiohttp application: the Crossbar-compatible ``/v2`` routes and
Webitel's ``/api/v2/hooks`` of :mod:`webhooksd.api.routes` on aiohttp's router, every request
through the one middleware of :mod:`webhooksd.api.middleware`; beside them ``/healthz``,
``/readyz``, ``/metrics``, ``/v2/openapi.json`` and the static UI at ``/``.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import orjson
from aiohttp import web
from aiohttp.typedefs import Handler
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from webhooksd.accounts.cache import AccountCache
from webhooksd.kazoo.authkeys import open_kazoo_tokens

from .auth import load_token_secret
from .deps import ACCOUNTS, DEPS, KAZOO_TOKENS, LIMITER, TOKEN_SECRET, ApiDeps, HookTester
from .envelope import CORS_HEADERS, JSON
from .middleware import api_middleware
from .openapi import build
from .ratelimit import RateLimiter
from .request import MAX_BODY_BYTES
from .routes import ROUTES, WEBITEL_ROUTES, add_routes

__all__ = ["ApiDeps", "HookTester", "create_app"]

STATIC_DIR = Path(__file__).resolve().parent.parent / "ui"
_NO_UI = "webhooksd: the web UI is not installed; the API is at /v2.\n"


def _json(status: int, body: object) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(body), content_type=JSON)


async def _healthz(request: web.Request) -> web.Response:
    return _json(200, {"status": "ok"})


async def _readyz(request: web.Request) -> web.Response:
    deps = request.app[DEPS]
    checks = dict(deps.readiness())
    ready = all(checks.values())
    checks.update(deps.advisories())
    status = ("ready" if all(checks.values()) else "degraded") if ready else "not ready"
    return _json(200 if ready else 503, {"status": status, "checks": checks})


async def _metrics(request: web.Request) -> web.Response:
    body = generate_latest(request.app[DEPS].metrics.registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


async def _openapi(request: web.Request) -> web.Response:
    return _json(200, build(ROUTES, WEBITEL_ROUTES))


#: the UI's modules import one another: a browser must ask again (a 304 when unchanged) rather
#: than reuse a cached file, or after an upgrade it could mix two releases' files
_UI_CACHE = {"Cache-Control": "no-cache"}


async def _index(request: web.Request) -> web.StreamResponse:
    index = STATIC_DIR / "index.html"
    if index.is_file():
        return web.FileResponse(index, headers=_UI_CACHE)
    return web.Response(text=_NO_UI, content_type="text/plain")


async def _cors(request: web.Request, response: web.StreamResponse) -> None:
    """Crossbar answers every request with its CORS headers."""
    for name, value in CORS_HEADERS.items():
        response.headers.setdefault(name, value)


async def _token_secret(app: web.Application) -> AsyncIterator[None]:
    """Load the shared token secret once the store is reachable (the app is starting)."""
    app[TOKEN_SECRET] = await load_token_secret(app, secrets.token_hex(32))
    yield


async def _kazoo_tokens(app: web.Application) -> AsyncIterator[None]:
    """Open what checks Kazoo-issued tokens (a CouchDB session when the key is read from
    Kazoo's CouchDB) for the app's lifetime."""
    async with open_kazoo_tokens(app[DEPS].settings) as verifier:
        app[KAZOO_TOKENS] = verifier
        yield


def _add_ui(router: web.UrlDispatcher) -> None:
    """The UI's files at their own paths: a static route at ``/`` would match every path, and
    an unknown API path or method would be the UI's 404 instead of Crossbar's 404 or 405."""
    router.add_get("/", _index)
    if not STATIC_DIR.is_dir():
        return
    for entry in sorted(STATIC_DIR.rglob("*")):
        if entry.is_file():
            router.add_get("/" + entry.relative_to(STATIC_DIR).as_posix(), _file(entry))


def _file(path: Path) -> Handler:
    async def serve(request: web.Request) -> web.StreamResponse:
        return web.FileResponse(path, headers=_UI_CACHE)

    return serve


def create_app(deps: ApiDeps) -> web.Application:
    """The API application; the caller runs it (``AppRunner`` inside the daemon's loop)."""
    app = web.Application(client_max_size=MAX_BODY_BYTES, middlewares=[api_middleware])
    settings = deps.settings
    app[DEPS] = deps
    app[ACCOUNTS] = deps.accounts or AccountCache(
        deps.store, ttl_s=settings.api_account_cache_ms / 1000
    )
    rate = settings.rate_limit_per_s
    app[LIMITER] = RateLimiter(rate) if rate > 0 else None
    app.cleanup_ctx.append(_token_secret)
    app.cleanup_ctx.append(_kazoo_tokens)
    app.on_response_prepare.append(_cors)
    add_routes(app.router)
    app.router.add_get("/v2/openapi.json", _openapi)
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/readyz", _readyz)
    app.router.add_get("/metrics", _metrics)
    _add_ui(app.router)
    return app
