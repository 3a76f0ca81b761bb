"""Webitel's hooks API, ``/api/v2/hooks`` (``webitel/engine-nodejs``
``src/adapter/rest/hook/hook.resource.js``, ``src/services/hook/index.js``,
``src/adapter/rest/auth/auth.resource.js`` ``validateRequestV2``, ``src/adapter/rest/error.js``)
over the same stored hooks as the Crossbar API.

Answers are ``{"status": "OK", "data": …}``; a create answers MongoDB's insert result, an
update ``{"ok": 1, "nModified": n, "n": n}`` and a delete ``{"ok": 1, "n": n}`` (``n`` is 0 for
an unknown id, and an item GET of an unknown id answers ``data: null``, as Webitel does).
Errors are ``{"status": "error", "info": …}`` (validation errors add ``errors``, keyed in
Webitel's field names). The caller is our token in ``X-Access-Token`` (or ``access_token``),
or an account API key in ``X-Key`` (or ``x_key``); ``?domain=`` names the account, by realm or
by name, among the accounts the caller may manage. Every write publishes the same
document-change notice as the Crossbar API, so each instance's hook table follows.

Requests pass through the same middleware as the Crossbar face
(:mod:`webhooksd.api.middleware`: one auth path, one rate limiter); this module holds Webitel's
handlers and the Webitel-shaped pieces the middleware uses.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import orjson
import structlog
from aiohttp import web

from webhooksd.kazoo.docchanges import DocAction, publish_hook_change
from webhooksd.kazoo.ids import new_id
from webhooksd.records import Account, HookDoc

from . import hookdocs
from .auth import Credentials, Identity
from .deps import DEPS, ApiDeps
from .envelope import JSON, Refusal
from .request import MAX_DEPTH, too_deep
from .validation import validate_hook
from .webitel_docs import WebitelError, error_summary, insert_result, to_hook_doc, to_webitel

log = structlog.get_logger(__name__)

DEFAULT_LIMIT = 40
ALLOW_HEADERS = "Content-Type, X-Access-Token, X-Key, X-Requested-With, Authorization"


@dataclass(frozen=True, slots=True, kw_only=True)
class WebitelCall:
    """One authenticated call with its domain's account."""

    request: web.Request
    identity: Identity
    account: Account
    domain: str
    body: Mapping[str, Any]

    @property
    def deps(self) -> ApiDeps:
        return self.request.app[DEPS]

    @property
    def hook_id(self) -> str:
        return self.request.match_info["hook_id"]


#: where the middleware leaves the call for the endpoint
WEBITEL_CALL = web.RequestKey("webitel_call", WebitelCall)

WebitelHandler = Callable[[WebitelCall], Awaitable[Any]]


@dataclass(frozen=True, slots=True, kw_only=True)
class WebitelEndpoint:
    handler: WebitelHandler
    summary: str
    body: bool = False

    async def serve(self, request: web.Request) -> web.StreamResponse:
        """aiohttp's handler: run the call the middleware admitted, answer Webitel's way."""
        data = await self.handler(request[WEBITEL_CALL])
        return _answer(200, {"status": "OK", "data": data})


@dataclass(frozen=True, slots=True, kw_only=True)
class WebitelRoute:
    """A path outside ``/v2`` (aiohttp syntax) and its methods."""

    path: str
    methods: Mapping[str, WebitelEndpoint]


# -- the hooks -----------------------------------------------------------------------------
def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default


async def list_hooks(call: WebitelCall) -> list[dict[str, Any]]:
    """``GET /api/v2/hooks``: ``limit`` (40), ``page`` (from 1) and ``columns`` as Webitel."""
    query = call.request.query
    limit = _int(query.get("limit"), DEFAULT_LIMIT) or DEFAULT_LIMIT
    page = _int(query.get("page"), 0)
    hooks = await call.deps.store.list_hooks(call.account.id)
    start = (page - 1) * limit if page > 0 else 0
    items = [to_webitel(h, call.domain) for h in hooks[start : start + max(limit, 0)]]
    columns = {c for c in query.get("columns", "").split(",") if c}
    if columns:
        items = [{k: v for k, v in i.items() if k in columns or k == "_id"} for i in items]
    return items


async def _owned(call: WebitelCall) -> HookDoc | None:
    stored = await call.deps.store.get_hook(call.hook_id)
    return stored if stored is not None and stored.account_id == call.account.id else None


async def get_hook(call: WebitelCall) -> dict[str, Any] | None:
    """``GET /api/v2/hooks/{id}``: the hook, or null."""
    stored = await _owned(call)
    return to_webitel(stored, call.domain) if stored is not None else None


async def _validated(call: WebitelCall, stored: HookDoc | None) -> dict[str, Any]:
    module_meta = await call.deps.store.list_module_meta()
    doc = to_hook_doc(call.body, list(module_meta), stored.doc if stored else None)
    try:
        return validate_hook(
            hookdocs.incoming(doc, stored),
            module_meta=module_meta,
            allow_private=call.deps.settings.allow_private_targets,
            is_master=call.identity.is_master,
        )
    except Refusal as refusal:
        errors = refusal.data if isinstance(refusal.data, Mapping) else {}
        info, keyed = error_summary(errors)
        raise WebitelError(400, info, keyed) from None


async def _announce(call: WebitelCall, action: DocAction, hook_id: str) -> None:
    await publish_hook_change(
        call.deps.bus,
        action,
        hook_id=hook_id,
        account_id=call.account.id,
        node=call.deps.settings.node,
    )


async def create_hook(call: WebitelCall) -> dict[str, Any]:
    """``POST /api/v2/hooks``: MongoDB's insert answer around the stored hook."""
    doc = await _validated(call, None)
    stored = await call.deps.store.create_hook(
        HookDoc(id=new_id(), account_id=call.account.id, doc=doc)
    )
    await _announce(call, "doc_created", stored.id)
    log.info("hook created (webitel api)", account_id=call.account.id, hook_id=stored.id)
    return insert_result(to_webitel(stored, call.domain))


async def update_hook(call: WebitelCall) -> dict[str, Any]:
    """``PUT /api/v2/hooks/{id}``: Webitel's fields replaced, ours kept; switching a hook on
    clears the auto-disable marker and its counted failures, as the Crossbar API does."""
    stored = await _owned(call)
    doc = await _validated(call, stored)
    if stored is None:
        return {"ok": 1, "nModified": 0, "n": 0}
    enabled = doc.get("enabled", True) is not False
    reason = None if enabled else stored.disabled_reason
    saved = await call.deps.store.update_hook(replace(stored, doc=doc, disabled_reason=reason))
    if enabled and stored.is_auto_disabled:
        await call.deps.store.flush_failures(call.account.id, stored.id)
    await _announce(call, "doc_edited", saved.id)
    log.info("hook saved (webitel api)", account_id=call.account.id, hook_id=saved.id)
    return {"ok": 1, "nModified": 1, "n": 1}


async def delete_hook(call: WebitelCall) -> dict[str, Any]:
    """``DELETE /api/v2/hooks/{id}``."""
    stored = await _owned(call)
    if stored is None or await call.deps.store.delete_hook(stored.id) is None:
        return {"ok": 1, "n": 0}
    await _announce(call, "doc_deleted", stored.id)
    log.info("hook deleted (webitel api)", account_id=call.account.id, hook_id=stored.id)
    return {"ok": 1, "n": 1}


# -- the Webitel-shaped pieces of the middleware ----------------------------------------------
#: Webitel's ``info`` for the refusals both faces share
_INFO = {
    409: "conflicting documents",
    413: "request entity too large",
    429: "Too many requests",
    500: "internal server error",
    503: "Request failed on the backend",
}


def _answer(status: int, body: Any) -> web.Response:
    # browsers send Webitel's credentials headers, which Crossbar's CORS answer does not list
    headers = {"Access-Control-Allow-Headers": ALLOW_HEADERS}
    return web.Response(status=status, body=orjson.dumps(body), content_type=JSON, headers=headers)


def preflight() -> web.Response:
    return web.Response(status=200, headers={"Access-Control-Allow-Headers": ALLOW_HEADERS})


def render_error(request: web.Request, refusal: Refusal) -> web.Response:
    """A refusal in Webitel's shape; an unrouted path or method is Express's 404."""
    if isinstance(refusal, WebitelError):
        status, info, errors = refusal.status, refusal.info, refusal.errors
    elif refusal.status in (404, 405):
        status, info, errors = 404, f"{request.path_qs} not found.", None
    else:
        status, info, errors = refusal.status, _INFO.get(refusal.status, refusal.message), None
    body: dict[str, Any] = {"status": "error", "info": info}
    if errors:
        body["errors"] = dict(errors)
    return _answer(status, body)


def credentials(request: web.Request) -> Credentials:
    """``X-Access-Token`` (our token), else ``X-Key`` (an account API key)."""
    token = request.headers.get("X-Access-Token") or request.query.get("access_token")
    key = request.headers.get("X-Key") or request.query.get("x_key")
    return Credentials(token=token or None, api_key=key or None)


async def _domain_account(deps: ApiDeps, identity: Identity, domain: str | None) -> Account:
    """The one account of the caller's tree that ``domain`` names, by realm or by name. Both
    are looked at together: a tenant may set its own realm to a sibling's name, and a realm
    tried first would hand it what its reseller meant for the sibling."""
    if not domain:
        raise WebitelError(400, "Bad request: domain is required.")
    if identity.is_master:
        candidates = await deps.store.list_accounts()
    else:
        own = identity.account
        candidates = [own, *await deps.store.list_descendants(own.id)]
    wanted = domain.lower()
    matches = [a for a in candidates if (a.realm and a.realm.lower() == wanted) or a.name == domain]
    if not matches:
        raise WebitelError(404, f"Domain {domain} not found.")
    if len(matches) > 1:
        raise WebitelError(
            400, f"Bad request: {domain} names more than one account (by realm or name)."
        )
    return matches[0]


async def _body(request: web.Request) -> Mapping[str, Any]:
    raw = await request.read()
    try:
        decoded = orjson.loads(raw) if raw.strip() else None
    except orjson.JSONDecodeError:
        raise WebitelError(400, "Bad request: the body is not JSON.") from None
    if not isinstance(decoded, dict):
        raise WebitelError(400, "Bad request: the body must be a JSON object.")
    if too_deep(decoded):
        raise WebitelError(400, f"Bad request: the body nests deeper than {MAX_DEPTH} levels.")
    return decoded


async def admit(request: web.Request, endpoint: WebitelEndpoint, identity: Identity) -> WebitelCall:
    """The call of an authenticated caller: its body (when the endpoint takes one) and the
    account its ``?domain=`` names."""
    body = await _body(request) if endpoint.body else {}
    account = await _domain_account(request.app[DEPS], identity, request.query.get("domain"))
    return WebitelCall(
        request=request,
        identity=identity,
        account=account,
        domain=account.realm or account.name,
        body=body,
    )


def endpoint_of(match: web.UrlMappingMatchInfo) -> WebitelEndpoint | None:
    """The endpoint a match found (aiohttp's route handler is its bound ``serve``)."""
    owner = getattr(match.handler, "__self__", None)
    return owner if isinstance(owner, WebitelEndpoint) else None
