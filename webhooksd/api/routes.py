"""Every path the API answers, who may call it and what the OpenAPI document says of it (Kazoo's
``allowed_methods`` of ``cb_webhooks``, ``cb_accounts``, ``cb_api_auth``, ``cb_search``; plus our
additions), registered with aiohttp's router one route per method.

Literal segments (``samples``, ``attempts``) come before ``{hook_id}`` so that they win, as
they do in Crossbar. Each method of a path is an :class:`Endpoint`; aiohttp's route handler is
its :meth:`Endpoint.serve`, so the middleware reads the endpoint's ``access`` from the match.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from aiohttp import web

from . import (
    accounts,
    alerts,
    apiauth,
    attempts,
    catalogue,
    health,
    publish,
    recovery,
    timeline,
    webhooks,
    webitel,
)
from .auth import Access
from .envelope import ENVELOPE, Reply, render_reply
from .request import CALL, Call
from .webitel import WebitelEndpoint, WebitelRoute

Handler = Callable[[Call], Awaitable[Reply]]


async def refuse(call: Call) -> Reply:
    """The handler of ``refused`` endpoints; the middleware answers before calling it."""
    raise RuntimeError(f"refused endpoint reached for {call.request.path}")


@dataclass(frozen=True, slots=True, kw_only=True)
class Endpoint:
    """One method of one path."""

    handler: Handler
    access: Access
    summary: str
    #: status of the success answer (201 for creates), for the OpenAPI document
    status: int = 200
    #: whether the request carries a ``data`` object the OpenAPI document should describe
    body: bool = False

    async def serve(self, request: web.Request) -> web.StreamResponse:
        """aiohttp's handler: run the call the middleware admitted, answer in the envelope."""
        call = request[CALL]
        reply = await self.handler(call)
        return render_reply(reply, request[ENVELOPE], etag=call.method in ("GET", "HEAD"))


@dataclass(frozen=True, slots=True, kw_only=True)
class Route:
    """A path under ``/v2`` (aiohttp syntax, e.g. ``/accounts/{account_id}/webhooks``)."""

    path: str
    methods: Mapping[str, Endpoint]
    tag: str
    description: str = ""
    params: Mapping[str, str] = field(default_factory=dict)


def endpoint_of(match: web.UrlMappingMatchInfo) -> Endpoint | None:
    """The endpoint a match found (None for aiohttp's match errors and the plain routes)."""
    owner = getattr(match.handler, "__self__", None)
    return owner if isinstance(owner, Endpoint) else None


def _route(
    tag: str, path: str, *, params: Mapping[str, str] | None = None, **methods: Endpoint
) -> Route:
    """A path and its endpoints by method name (``get=…``, ``put=…``); ``params``: its own
    query parameters, for the OpenAPI document."""
    return Route(
        path=path,
        tag=tag,
        methods={m.upper(): e for m, e in methods.items()},
        params=params or {},
    )


def _public(handler: Handler, summary: str, *, status: int = 200, body: bool = False) -> Endpoint:
    return Endpoint(handler=handler, access="public", summary=summary, status=status, body=body)


def _account(handler: Handler, summary: str) -> Endpoint:
    return Endpoint(handler=handler, access="account", summary=summary)


def _write(handler: Handler, summary: str, *, status: int = 200) -> Endpoint:
    """An account endpoint that takes a ``data`` object."""
    return Endpoint(handler=handler, access="account", summary=summary, status=status, body=True)


#: a method Crossbar routes without an account, and never grants
_NO = Endpoint(handler=refuse, access="refused", summary="Refused without an account")
_SAMPLES = "Names of the sample payload sets"
_A = "/accounts/{account_id}"
_HOOKS = f"{_A}/webhooks"
#: the request log's search (api/search.py)
_SEARCH = {
    "call_id": "the call whose events were delivered (Call-ID)",
    "event_id": "one event's attempts (its 10-hex event_id)",
    "status": "the receiver's HTTP status code (503) or a class of them (5xx)",
    "result": "success or failure",
}

ROUTES: tuple[Route, ...] = (
    _route(
        "auth",
        "/api_auth",
        put=_public(
            apiauth.api_auth, "Trade an account API key for a token", status=201, body=True
        ),
    ),
    _route(
        "catalogue",
        "/webhooks",
        get=_public(catalogue.list_available, "Available hook types"),
        put=_NO,
        patch=_NO,
    ),
    _route("catalogue", "/webhooks/samples", get=_public(catalogue.list_samples, _SAMPLES)),
    _route(
        "catalogue",
        "/webhooks/samples/{sample_id}",
        get=_public(catalogue.get_sample, "One set of sample payloads (filter_* applies)"),
    ),
    _route("catalogue", "/webhooks/attempts", get=_NO),
    _route("catalogue", "/webhooks/{hook_id}", get=_NO, post=_NO, patch=_NO, delete=_NO),
    _route("catalogue", "/webhooks/{hook_id}/attempts", get=_NO),
    _route(
        "accounts",
        _A,
        get=_account(accounts.get_account, "Fetch an account"),
        put=_write(accounts.create_sub_account, "Create a sub-account", status=201),
        post=_write(accounts.replace_account, "Replace an account"),
        patch=_write(accounts.patch_account, "Patch an account"),
        delete=_account(accounts.delete_account, "Delete an account and its hooks"),
    ),
    _route(
        "accounts", f"{_A}/children", get=_account(accounts.list_children, "Direct sub-accounts")
    ),
    _route(
        "accounts",
        f"{_A}/descendants",
        get=_account(accounts.list_descendants, "Every sub-account below"),
    ),
    _route(
        "accounts",
        f"{_A}/search",
        get=_account(accounts.search, "Search sub-accounts (t=account&q=name&v=…)"),
    ),
    _route(
        "webhooks",
        _HOOKS,
        get=_account(webhooks.list_hooks, "Summary of the account's hooks"),
        put=_write(webhooks.create_hook, "Create a hook", status=201),
        patch=_write(webhooks.reenable_account, "Re-enable auto-disabled hooks"),
    ),
    _route(
        "webhooks",
        f"{_A}/descendants/webhooks",
        get=_account(webhooks.list_hooks, "Summary of the account's own hooks"),
        put=_write(webhooks.create_hook, "Create a hook", status=201),
        patch=_write(webhooks.reenable_descendants, "Re-enable auto-disabled hooks here and below"),
    ),
    _route("catalogue", f"{_HOOKS}/samples", get=_account(catalogue.list_samples, _SAMPLES)),
    _route(
        "catalogue",
        f"{_HOOKS}/samples/{{sample_id}}",
        get=_account(catalogue.get_sample, "One set of sample payloads"),
    ),
    _route(
        "attempts",
        f"{_HOOKS}/attempts",
        get=_account(attempts.list_account_attempts, "The account's attempts, newest first"),
        params={"hook_id": "one hook's attempts", **_SEARCH},
    ),
    _route(
        "attempts",
        f"{_HOOKS}/events/{{event_id}}/timeline",
        get=_account(
            timeline.event_timeline,
            "One event's attempts per hook, oldest first: first, retries, replays, tests",
        ),
    ),
    _route(
        "webhooks",
        f"{_HOOKS}/health",
        get=_account(health.list_health, "Each hook's recent deliveries, failures and retries"),
    ),
    _route(
        "alerts",
        f"{_HOOKS}/alerts",
        get=_account(alerts.get_alerts, "Where the account is told of disabled hooks"),
        post=_write(alerts.replace_alerts, "Replace the alert settings"),
        patch=_write(alerts.patch_alerts, "Patch the alert settings (null unsets a key)"),
    ),
    _route(
        "attempts",
        f"{_HOOKS}/replay",
        post=_write(
            recovery.resend_account,
            "Resend the failed events of the account's enabled hooks in a window (dry_run counts)",
        ),
    ),
    _route(
        "attempts",
        f"{_HOOKS}/attempts/{{attempt_id}}/replay",
        post=_account(attempts.replay_attempt, "Send an attempt's payload again"),
    ),
    _route(
        "webhooks",
        f"{_HOOKS}/{{hook_id}}",
        get=_account(webhooks.get_hook, "Fetch a hook"),
        post=_write(webhooks.replace_hook, "Replace a hook (defaults re-applied)"),
        patch=_write(webhooks.patch_hook, "Patch a hook (null deletes a key)"),
        delete=_account(webhooks.delete_hook, "Delete a hook"),
    ),
    _route(
        "attempts",
        f"{_HOOKS}/{{hook_id}}/attempts",
        get=_account(attempts.list_hook_attempts, "The hook's attempts, newest first"),
        params=_SEARCH,
    ),
    _route(
        "webhooks",
        f"{_HOOKS}/{{hook_id}}/test",
        post=_write(
            webhooks.test_hook, "Send the hook type's sample (or data.payload, edited) now"
        ),
    ),
    _route(
        "attempts",
        f"{_HOOKS}/{{hook_id}}/replay",
        post=_write(
            recovery.resend_hook,
            "Resend the hook's failed events in a window once each (dry_run counts them)",
        ),
    ),
    _route(
        "bus",
        "/bus/publish",
        post=Endpoint(
            handler=publish.publish,
            access="master",
            body=True,
            summary="Publish an event on the bus (master account only)",
        ),
    ),
)

#: Webitel's hooks API (``/api/v2/hooks``), outside ``/v2``: its own envelope and credentials
WEBITEL_ROUTES: tuple[WebitelRoute, ...] = (
    WebitelRoute(
        path="/api/v2/hooks",
        methods={
            "GET": WebitelEndpoint(handler=webitel.list_hooks, summary="Hooks of a domain"),
            "POST": WebitelEndpoint(
                handler=webitel.create_hook, summary="Create a hook", body=True
            ),
        },
    ),
    WebitelRoute(
        path="/api/v2/hooks/{hook_id}",
        methods={
            "GET": WebitelEndpoint(handler=webitel.get_hook, summary="Fetch a hook (or null)"),
            "PUT": WebitelEndpoint(handler=webitel.update_hook, summary="Update a hook", body=True),
            "DELETE": WebitelEndpoint(handler=webitel.delete_hook, summary="Delete a hook"),
        },
    ),
)


def add_routes(router: web.UrlDispatcher) -> None:
    """Register every route, one per method (``GET`` answers ``HEAD`` too)."""
    for route in ROUTES:
        # Crossbar ignores a trailing slash
        for path in (f"/v2{route.path}", f"/v2{route.path}/"):
            for method, endpoint in route.methods.items():
                router.add_route(method, path, endpoint.serve)
                if method == "GET":
                    router.add_route("HEAD", path, endpoint.serve)
    for webitel_route in WEBITEL_ROUTES:
        for method, webitel_endpoint in webitel_route.methods.items():
            router.add_route(method, webitel_route.path, webitel_endpoint.serve)
