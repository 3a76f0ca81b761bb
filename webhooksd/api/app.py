"""The API server (Kazoo's ``crossbar`` application, for the webhooks resources).

:func:`create_app` builds the aiohttp application: the Crossbar-compatible ``/v2`` routes of
:mod:`webhooksd.api.routes` run through :mod:`webhooksd.api.pipeline`; Webitel's
``/api/v2/hooks`` through :mod:`webhooksd.api.webitel`; beside them ``/healthz``,
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

from .auth import AUTH, load_auth_state
from .deps import DEPS, ApiDeps, HookTester
from .envelope import CORS_HEADERS, JSON
from .openapi import build
from .pipeline import handle
from .request import MAX_BODY_BYTES
from .routes import ROUTES, WEBITEL_ROUTES
from .routing import Route
from .webitel import WebitelRoute, serve

__all__ = ["ApiDeps", "HookTester", "create_app"]

STATIC_DIR = Path(__file__).resolve().parent.parent / "ui"
_NO_UI = "webhooksd: the web UI is not installed; the API is at /v2.\n"


def _serve(route: Route | None) -> Handler:
    async def serve(request: web.Request) -> web.StreamResponse:
        return await handle(request, route)

    return serve


def _json(status: int, body: object) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(body), content_type=JSON)


async def _healthz(request: web.Request) -> web.Response:
    return _json(200, {"status": "ok"})


async def _readyz(request: web.Request) -> web.Response:
    checks = dict(request.app[DEPS].readiness())
    ready = all(checks.values())
    return _json(
        200 if ready else 503, {"status": "ready" if ready else "not ready", "checks": checks}
    )


async def _metrics(request: web.Request) -> web.Response:
    body = generate_latest(request.app[DEPS].metrics.registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


async def _openapi(request: web.Request) -> web.Response:
    return _json(200, build(ROUTES, WEBITEL_ROUTES))


async def _index(request: web.Request) -> web.StreamResponse:
    index = STATIC_DIR / "index.html"
    if index.is_file():
        return web.FileResponse(index)
    return web.Response(text=_NO_UI, content_type="text/plain")


async def _cors(request: web.Request, response: web.StreamResponse) -> None:
    """Crossbar answers every request with its CORS headers."""
    for name, value in CORS_HEADERS.items():
        response.headers.setdefault(name, value)


async def _auth_state(app: web.Application) -> AsyncIterator[None]:
    """Load the shared token secret once the store is reachable (the app is starting)."""
    deps = app[DEPS]
    accounts = deps.accounts or AccountCache(
        deps.store, ttl_s=deps.settings.api_account_cache_ms / 1000
    )
    app[AUTH] = await load_auth_state(
        deps.store, deps.settings.rate_limit_per_s, secrets.token_hex(32), accounts
    )
    yield


def _add_v2_routes(app: web.Application) -> None:
    for route in ROUTES:
        serve = _serve(route)
        path = f"/v2{route.path}"
        app.router.add_route("*", path, serve)
        app.router.add_route("*", f"{path}/", serve)  # Crossbar ignores a trailing slash
    app.router.add_get("/v2/openapi.json", _openapi)
    # anything else under /v2 still goes through the pipeline: 400/401 before 404
    app.router.add_route("*", "/v2/{tail:.*}", _serve(None))


def _serve_webitel(route: WebitelRoute) -> Handler:
    async def serve_route(request: web.Request) -> web.StreamResponse:
        return await serve(request, route)

    return serve_route


def _add_webitel_routes(app: web.Application) -> None:
    for route in WEBITEL_ROUTES:
        app.router.add_route("*", route.path, _serve_webitel(route))


def create_app(deps: ApiDeps) -> web.Application:
    """The API application; the caller runs it (``AppRunner`` inside the daemon's loop)."""
    app = web.Application(client_max_size=MAX_BODY_BYTES)
    app[DEPS] = deps
    app.cleanup_ctx.append(_auth_state)
    app.on_response_prepare.append(_cors)
    _add_v2_routes(app)
    _add_webitel_routes(app)
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/readyz", _readyz)
    app.router.add_get("/metrics", _metrics)
    app.router.add_get("/", _index)
    if STATIC_DIR.is_dir():
        app.router.add_static("/", STATIC_DIR)
    return app
