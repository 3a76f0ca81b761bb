"""The one middleware every request passes through (Kazoo ``api_resource``, the cowboy_rest
state machine), for both faces of the API.

aiohttp's router has matched the path and method before the middleware runs; a miss is a match
error the middleware reads (``match_info.http_exception``), so that Crossbar's order in which
errors win holds (reference §1.6): the body and envelope (400), an expired token (401), the path
(404) and the method (405), the URL's account (404), the token (401), the hierarchy (403), then
the handler's own validation. The rate limit (429) is checked once the caller is known.

Every error is answered in its face's envelope, aiohttp's own ``HTTPException``\\ s included:
Webitel's under ``/api/v2/hooks``, Crossbar's everywhere else.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

import structlog
from aiohttp import web
from aiohttp.typedefs import Handler

import webhooksd
from webhooksd.errors import BusError, Conflict, StoreError
from webhooksd.records import Account

from . import webitel
from .auth import Credentials, Identity, authorize, identify
from .deps import ACCOUNTS, DEPS, LIMITER
from .envelope import (
    ENVELOPE,
    TOKEN_COST,
    EnvelopeContext,
    Refusal,
    bad_identifier,
    invalid_method,
    node_hash,
    not_found,
    render_refusal,
    too_many_requests,
)
from .ratelimit import Take
from .request import (
    CALL,
    Call,
    effective_method,
    parse_envelope,
    read_body,
    request_id,
    supplied_token,
)
from .routes import Endpoint, endpoint_of
from .webitel_docs import WebitelError

log = structlog.get_logger(__name__)

VERSION = webhooksd.__version__
WEBITEL_PREFIX = "/api/v2/hooks"


# -- what both faces share -------------------------------------------------------------------
def _take(request: web.Request, identity: Identity | None) -> Take | None:
    """One token from the caller's bucket: the token's, the API key's account's, else the
    client address's; None when there is no limit."""
    limiter = request.app[LIMITER]
    if limiter is None:
        return None
    if identity is None:
        return limiter.take(f"anon:{request.remote}")
    if identity.token:
        return limiter.take(f"token:{identity.token}")
    return limiter.take(f"account:{identity.account.id}")


def _http_refusal(exc: web.HTTPException) -> Refusal:
    if exc.status == 404:
        return not_found()
    if exc.status == 405:
        return invalid_method()
    if exc.status == 413:
        return Refusal(413, "request_entity_too_large", {"message": "request body too large"})
    reason = exc.reason.lower()
    return Refusal(exc.status, reason.replace(" ", "_"), {"message": reason})


def _refusal(exc: Exception, request: web.Request) -> Refusal:
    """Any failure as the refusal it is answered with."""
    if isinstance(exc, Refusal):
        return exc
    if isinstance(exc, web.HTTPException):
        return _http_refusal(exc)
    if isinstance(exc, Conflict):
        return Refusal(409, "datastore_conflict", {"message": "conflicting documents"})
    if isinstance(exc, StoreError | BusError):
        log.warning("backend refused an api request", error=str(exc), path=request.path)
        if isinstance(exc, StoreError):
            return Refusal(503, "datastore_fault", {"message": "datastore fatal error"})
        return Refusal(503, "bus_fault", {"message": "Request failed on the backend"})
    log.exception("api request failed", path=request.path, method=request.method)
    return Refusal(500, "internal_error", {"message": "internal server error"})


def _known_path(match: web.UrlMappingMatchInfo) -> bool:
    """The path is routed, if not for this method."""
    return isinstance(match.http_exception, web.HTTPMethodNotAllowed)


# -- the Crossbar face -----------------------------------------------------------------------
async def _early_identity(request: web.Request, token: str | None) -> Identity | None:
    """An expired token is 401 anywhere; another bad token counts as none."""
    who = await identify(request.app, Credentials(token=token))
    if who == "expired":
        raise Refusal(401, "invalid credentials", {})
    return who if isinstance(who, Identity) else None


def _budget(request: web.Request, identity: Identity | None) -> None:
    """Take from the caller's bucket; the envelope reports the bucket, refused or not."""
    taken = _take(request, identity)
    if taken is None:
        return
    # Crossbar reports the request's cost (cb_modules_util:token_cost), refused or not
    tokens = {"consumed": TOKEN_COST, "remaining": taken.remaining}
    request[ENVELOPE] = replace(request[ENVELOPE], tokens=tokens)
    if not taken.allowed:
        raise too_many_requests()


async def _match(request: web.Request, unread: web.Request, method: str) -> web.UrlMappingMatchInfo:
    """The match for a tunnelled verb is the router's answer for that verb."""
    if method == request.method:
        return request.match_info
    return await request.app.router.resolve(unread.clone(method=method))


def _endpoint(match: web.UrlMappingMatchInfo) -> Endpoint:
    endpoint = endpoint_of(match)
    if endpoint is None:
        raise invalid_method() if _known_path(match) else not_found()
    return endpoint


async def _url_account(request: web.Request, account_id: str | None) -> Account | None:
    """The URL's account must exist, checked before authentication as Crossbar does."""
    if account_id is None:
        return None
    if len(account_id) != 32:
        message = f"invalid account_id '{account_id}'"
        raise Refusal(404, "bad identifier", {"message": message})
    account = await request.app[ACCOUNTS].get(account_id)
    if account is None:
        raise bad_identifier(account_id)
    return account


async def _caller(request: web.Request) -> Call:
    """The body, the envelope, the token's caller and its budget (steps 1 and 2)."""
    envelope, data = parse_envelope(request, await read_body(request))
    token = supplied_token(request, envelope, data)
    request[ENVELOPE] = replace(request[ENVELOPE], auth_token=token)
    identity = await _early_identity(request, token)
    if identity is not None:
        request[ENVELOPE] = replace(request[ENVELOPE], version=VERSION)
    _budget(request, identity)
    return Call(
        request=request,
        method=effective_method(request, envelope),
        envelope=envelope,
        data=data,
        query=dict(request.query),
        token=token,
        identity=identity,
    )


async def _crossbar(request: web.Request, handler: Handler) -> web.StreamResponse:
    # aiohttp clones a request only while its body is unread; a tunnelled verb is
    # re-matched on this twin once the body has named it
    unread = request.clone() if request.method == "POST" else request
    call = await _caller(request)
    match = await _match(request, unread, call.method)
    if call.method == "OPTIONS" and _known_path(match):
        return web.Response(status=200, headers={"X-Request-ID": request[ENVELOPE].request_id})
    endpoint = _endpoint(match)
    account = await _url_account(request, match.get("account_id"))
    authorize(endpoint.access, call.identity, account)
    request[CALL] = replace(call, path=dict(match), account=account)
    # the router's handler, unless a tunnelled verb matched another endpoint
    serve = handler if match is request.match_info else endpoint.serve
    with structlog.contextvars.bound_contextvars(account_id=account.id if account else None):
        return await serve(request)


def _crossbar_error(request: web.Request, refusal: Refusal) -> web.StreamResponse:
    return render_refusal(refusal, request[ENVELOPE])


async def _plain(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Probes, metrics, the OpenAPI document and the UI: only their errors are Crossbar's."""
    return await handler(request)


# -- the Webitel face ------------------------------------------------------------------------
async def _webitel(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.method == "OPTIONS" and _known_path(request.match_info):
        return webitel.preflight()
    endpoint = webitel.endpoint_of(request.match_info)
    if endpoint is None:
        raise not_found()
    who = await identify(request.app, webitel.credentials(request))
    if not isinstance(who, Identity):
        raise WebitelError(401, "Token Expired" if who == "expired" else "Invalid token")
    taken = _take(request, who)
    if taken is not None and not taken.allowed:
        raise WebitelError(429, "Too many requests")
    call = await webitel.admit(request, endpoint, who)
    request[webitel.WEBITEL_CALL] = call
    with structlog.contextvars.bound_contextvars(account_id=call.account.id):
        return await handler(request)


# -- the middleware --------------------------------------------------------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class _Face:
    serve: Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]
    refuse: Callable[[web.Request, Refusal], web.StreamResponse]


_CROSSBAR = _Face(serve=_crossbar, refuse=_crossbar_error)
_PLAIN = _Face(serve=_plain, refuse=_crossbar_error)
_WEBITEL = _Face(serve=_webitel, refuse=webitel.render_error)


def _face(request: web.Request) -> _Face:
    path = request.path
    if path == WEBITEL_PREFIX or path.startswith(f"{WEBITEL_PREFIX}/"):
        return _WEBITEL
    match = request.match_info
    if endpoint_of(match) is not None:
        return _CROSSBAR
    # an unrouted path or method under /v2 still goes through Crossbar's order: 400/401 first
    if path.startswith("/v2/") and match.http_exception is not None:
        return _CROSSBAR
    return _PLAIN


@web.middleware
async def api_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Serve ``request`` through its face; answer any failure in the face's envelope."""
    node = node_hash(request.app[DEPS].settings.node)
    request[ENVELOPE] = EnvelopeContext(request_id=request_id(request), node=node)
    face = _face(request)
    with structlog.contextvars.bound_contextvars(request_id=request[ENVELOPE].request_id):
        try:
            return await face.serve(request, handler)
        except web.HTTPException as exc:
            if exc.status < 400:  # a redirect is an answer, not an error
                raise
            refusal = _refusal(exc, request)
        except Exception as exc:
            refusal = _refusal(exc, request)
        return face.refuse(request, refusal)
