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

from . import accounts, apiauth, attempts, catalogue, publish, webhooks, webitel
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


def _refused(summary: str) -> Endpoint:
    return Endpoint(handler=refuse, access="refused", summary=summary)


def _account(handler: Handler, summary: str, *, status: int = 200, body: bool = False) -> Endpoint:
    return Endpoint(handler=handler, access="account", summary=summary, status=status, body=body)


_HOOK_SUMMARY = "Webhooks of an account"

ROUTES: tuple[Route, ...] = (
    Route(
        path="/api_auth",
        tag="auth",
        methods={
            "PUT": Endpoint(
                handler=apiauth.api_auth,
                access="public",
                status=201,
                body=True,
                summary="Trade an account API key for a token",
            ),
        },
    ),
    Route(
        path="/webhooks",
        tag="catalogue",
        methods={
            "GET": Endpoint(
                handler=catalogue.list_available, access="public", summary="Available hook types"
            ),
            "PUT": _refused("Refused without an account"),
            "PATCH": _refused("Refused without an account"),
        },
    ),
    Route(
        path="/webhooks/samples",
        tag="catalogue",
        methods={
            "GET": Endpoint(
                handler=catalogue.list_samples,
                access="public",
                summary="Names of the sample payload sets",
            ),
        },
    ),
    Route(
        path="/webhooks/samples/{sample_id}",
        tag="catalogue",
        methods={
            "GET": Endpoint(
                handler=catalogue.get_sample,
                access="public",
                summary="One set of sample payloads (filter_* applies)",
            ),
        },
    ),
    Route(
        path="/webhooks/attempts",
        tag="catalogue",
        methods={
            "GET": _refused("Refused without an account"),
        },
    ),
    Route(
        path="/webhooks/{hook_id}",
        tag="catalogue",
        methods={
            m: _refused("Refused without an account") for m in ("GET", "POST", "PATCH", "DELETE")
        },
    ),
    Route(
        path="/webhooks/{hook_id}/attempts",
        tag="catalogue",
        methods={
            "GET": _refused("Refused without an account"),
        },
    ),
    Route(
        path="/accounts/{account_id}",
        tag="accounts",
        methods={
            "GET": _account(accounts.get_account, "Fetch an account"),
            "PUT": _account(
                accounts.create_sub_account, "Create a sub-account", status=201, body=True
            ),
            "POST": _account(accounts.replace_account, "Replace an account", body=True),
            "PATCH": _account(accounts.patch_account, "Patch an account", body=True),
            "DELETE": _account(accounts.delete_account, "Delete an account and its hooks"),
        },
    ),
    Route(
        path="/accounts/{account_id}/children",
        tag="accounts",
        methods={
            "GET": _account(accounts.list_children, "Direct sub-accounts"),
        },
    ),
    Route(
        path="/accounts/{account_id}/descendants",
        tag="accounts",
        methods={
            "GET": _account(accounts.list_descendants, "Every sub-account below"),
        },
    ),
    Route(
        path="/accounts/{account_id}/search",
        tag="accounts",
        methods={
            "GET": _account(accounts.search, "Search sub-accounts (t=account&q=name&v=…)"),
        },
    ),
    Route(
        path="/accounts/{account_id}/webhooks",
        tag="webhooks",
        methods={
            "GET": _account(webhooks.list_hooks, "Summary of the account's hooks"),
            "PUT": _account(webhooks.create_hook, "Create a hook", status=201, body=True),
            "PATCH": _account(
                webhooks.reenable_account, "Re-enable auto-disabled hooks", body=True
            ),
        },
    ),
    Route(
        path="/accounts/{account_id}/descendants/webhooks",
        tag="webhooks",
        methods={
            "GET": _account(webhooks.list_hooks, "Summary of the account's own hooks"),
            "PUT": _account(webhooks.create_hook, "Create a hook", status=201, body=True),
            "PATCH": _account(
                webhooks.reenable_descendants,
                "Re-enable auto-disabled hooks here and below",
                body=True,
            ),
        },
    ),
    Route(
        path="/accounts/{account_id}/webhooks/samples",
        tag="catalogue",
        methods={
            "GET": _account(catalogue.list_samples, "Names of the sample payload sets"),
        },
    ),
    Route(
        path="/accounts/{account_id}/webhooks/samples/{sample_id}",
        tag="catalogue",
        methods={"GET": _account(catalogue.get_sample, "One set of sample payloads")},
    ),
    Route(
        path="/accounts/{account_id}/webhooks/attempts",
        tag="attempts",
        methods={
            "GET": _account(attempts.list_account_attempts, "The account's attempts, newest first"),
        },
    ),
    Route(
        path="/accounts/{account_id}/webhooks/attempts/{attempt_id}/replay",
        tag="attempts",
        methods={"POST": _account(attempts.replay_attempt, "Send an attempt's payload again")},
    ),
    Route(
        path="/accounts/{account_id}/webhooks/{hook_id}",
        tag="webhooks",
        methods={
            "GET": _account(webhooks.get_hook, "Fetch a hook"),
            "POST": _account(
                webhooks.replace_hook, "Replace a hook (defaults re-applied)", body=True
            ),
            "PATCH": _account(webhooks.patch_hook, "Patch a hook (null deletes a key)", body=True),
            "DELETE": _account(webhooks.delete_hook, "Delete a hook"),
        },
    ),
    Route(
        path="/accounts/{account_id}/webhooks/{hook_id}/attempts",
        tag="attempts",
        methods={
            "GET": _account(attempts.list_hook_attempts, "The hook's attempts, newest first"),
        },
    ),
    Route(
        path="/accounts/{account_id}/webhooks/{hook_id}/test",
        tag="webhooks",
        methods={
            "POST": _account(webhooks.test_hook, "Send the hook type's sample payload now"),
        },
    ),
    Route(
        path="/accounts/{account_id}/webhooks/{hook_id}/replay",
        tag="attempts",
        methods={
            "POST": _account(attempts.replay_hook, "Replay the hook's failed events in a window"),
        },
    ),
    Route(
        path="/bus/publish",
        tag="bus",
        methods={
            "POST": Endpoint(
                handler=publish.publish,
                access="master",
                body=True,
                summary="Publish an event on the bus (master account only)",
            ),
        },
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
