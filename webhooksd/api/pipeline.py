"""Crossbar's request pipeline (Kazoo ``api_resource``, the cowboy_rest state machine).

The order in which errors win is Crossbar's (reference §1.6): body and envelope (400), an
expired token (401), the path (404) and the method (405), the URL's account (404), the token
(401), the hierarchy (403), then the handler's own validation. The rate limit (429) is checked
once the caller is known.
"""

from __future__ import annotations

from dataclasses import replace

import structlog
from aiohttp import web

import webhooksd
from webhooksd.errors import BusError, Conflict, StoreError

from .auth import AUTH, identify, may_manage
from .deps import DEPS
from .envelope import (
    EnvelopeContext,
    Refusal,
    forbidden,
    invalid_credentials,
    invalid_method,
    node_hash,
    not_found,
    render_refusal,
    render_reply,
)
from .request import (
    Call,
    Identity,
    effective_method,
    parse_envelope,
    read_body,
    request_id,
    supplied_token,
)
from .routing import Endpoint, Route

log = structlog.get_logger(__name__)

VERSION = webhooksd.__version__


def _endpoint(route: Route | None, method: str) -> Endpoint:
    if route is None:
        raise not_found()
    endpoint = route.methods.get("GET" if method == "HEAD" else method)
    if endpoint is None:
        raise invalid_method()
    return endpoint


async def _load_account(call: Call) -> Call:
    """The URL's account must exist, checked before authentication as Crossbar does."""
    account_id = call.path.get("account_id")
    if account_id is None:
        return call
    if len(account_id) != 32:
        message = f"invalid account_id '{account_id}'"
        raise Refusal(404, "bad identifier", {"message": message})
    account = await call.request.app[AUTH].accounts.get(account_id)
    if account is None:
        raise Refusal(404, "bad_identifier", {"cause": account_id, "message": "bad identifier"})
    return replace(call, account=account)


def _authorize(call: Call, endpoint: Endpoint) -> None:
    if endpoint.access == "public":
        return
    identity = call.identity
    if identity is None:
        raise invalid_credentials()
    if endpoint.access == "refused":
        raise forbidden()
    if endpoint.access == "master" and not identity.is_master:
        raise forbidden()
    if call.account is not None and not may_manage(identity, call.account):
        raise forbidden()


def _rate_limit(
    request: web.Request, identity: Identity | None, ctx: EnvelopeContext
) -> tuple[EnvelopeContext, bool]:
    """Take one token from the caller's bucket (a valid token's, else the client address's);
    the envelope reports the bucket either way."""
    limiter = request.app[AUTH].limiter
    if limiter is None:
        return ctx, True
    key = f"token:{identity.token}" if identity else f"anon:{request.remote}"
    taken = limiter.take(key)
    tokens = {"consumed": taken.consumed, "remaining": taken.remaining}
    return replace(ctx, tokens=tokens), taken.allowed


async def _caller(call: Call, ctx: EnvelopeContext) -> tuple[Call, EnvelopeContext]:
    """Early token check: an expired token is 401 anywhere; other bad tokens count as none."""
    if call.token is None:
        return call, ctx
    who = await identify(call.request.app[AUTH], call.token)
    if isinstance(who, Identity):
        return replace(call, identity=who), replace(ctx, version=VERSION)
    if who.state == "expired":
        raise Refusal(401, "invalid credentials", {})
    return call, ctx


async def _run(
    request: web.Request, route: Route | None, ctx: EnvelopeContext
) -> web.StreamResponse:
    raw = await read_body(request)
    envelope, data = parse_envelope(request, raw)
    token = supplied_token(request, envelope, data)
    ctx = replace(ctx, auth_token=token)
    call = Call(
        request=request,
        deps=request.app[DEPS],
        request_id=ctx.request_id,
        method=effective_method(request, envelope),
        envelope=envelope,
        data=data,
        query={k: request.query[k] for k in request.query},
        path=dict(request.match_info),
        token=token,
    )
    try:
        call, ctx = await _caller(call, ctx)
        ctx, allowed = _rate_limit(request, call.identity, ctx)
        if not allowed:
            raise Refusal(429, "too_many_requests", {"message": "too many requests"})
        if call.method == "OPTIONS" and route is not None:
            return web.Response(status=200, headers={"X-Request-ID": ctx.request_id})
        endpoint = _endpoint(route, call.method)
        call = await _load_account(call)
        _authorize(call, endpoint)
        reply = await endpoint.handler(call)
    except Refusal as refusal:
        return render_refusal(refusal, ctx)
    except (StoreError, BusError) as exc:
        log.warning("backend refused an api request", error=str(exc), path=request.path)
        return render_refusal(_internal(exc), ctx)
    return render_reply(reply, ctx, etag=call.method in ("GET", "HEAD"))


def _internal(exc: Exception) -> Refusal:
    if isinstance(exc, Conflict):
        return Refusal(409, "datastore_conflict", {"message": "conflicting documents"})
    if isinstance(exc, StoreError):
        return Refusal(503, "datastore_fault", {"message": "datastore fatal error"})
    if isinstance(exc, BusError):
        return Refusal(503, "bus_fault", {"message": "Request failed on the backend"})
    return Refusal(500, "internal_error", {"message": "internal server error"})


async def handle(request: web.Request, route: Route | None) -> web.StreamResponse:
    """Answer one ``/v2`` request in Crossbar's envelope, whatever happens."""
    deps = request.app[DEPS]
    ctx = EnvelopeContext(request_id=request_id(request), node=node_hash(deps.settings.node))
    with structlog.contextvars.bound_contextvars(request_id=ctx.request_id):
        try:
            return await _run(request, route, ctx)
        except Refusal as refusal:
            return render_refusal(refusal, ctx)
        except web.HTTPException:
            raise
        except Exception as exc:
            log.exception("api request failed", path=request.path, method=request.method)
            return render_refusal(_internal(exc), ctx)
