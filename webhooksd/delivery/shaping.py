"""Preparing one delivery of one hook with the hook's transforms: the filter, ``fields`` and
``map``, the templated body and headers, and the auth headers (Webitel's ``Hook.check``,
``Message`` and ``toRequest`` in ``hookClass.js``; Kazoo has none).

Transforms are compiled once per hook: the cache holds the ``Hook`` it compiled and recompiles
only when the hook table hands over a new one (an edited hook is a new ``Hook``).
A stored hook whose transforms no longer compile (saved before validation existed) fails
each attempt with the reason, so the problem shows in its attempts instead of in a log.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import structlog

from webhooksd.bounded import BoundedCache
from webhooksd.delivery.attempts import REDACTED
from webhooksd.delivery.hookauth import NO_AUTH, Fetch, HookAuth
from webhooksd.delivery.outcome import Outcome
from webhooksd.delivery.request import OutboundRequest, build_request
from webhooksd.records import Hook
from webhooksd.transforms import HookTransforms, TransformError, compile_hook_transforms

log = structlog.get_logger(__name__)

#: compiled hooks remembered at most
MAX_HOOKS = 10_000
INVALID_REASON = "hook transforms invalid"


@dataclass(frozen=True, slots=True, kw_only=True)
class Prepared:
    """The request to send, the same request as attempts record it, and a failure that
    stops it from being sent (a failed auth pre-request, invalid transforms)."""

    request: OutboundRequest
    recorded: OutboundRequest
    failure: Outcome | None = None
    #: the auth pre-request did not start soon (see :class:`HookAuth`): nothing to send yet
    busy: bool = False
    #: preparing it waited (the hook's auth was resolved): other tasks ran meanwhile, so
    #: what was known of the endpoint before may have changed
    waited: bool = False


def _untransformed(compiled: HookTransforms) -> bool:
    """Nothing in ``compiled`` changes the request (a filter may still choose the hook)."""
    return (
        not (compiled.fields or compiled.renames or compiled.headers)
        and compiled.body is None
        and compiled.auth is None
    )


def _source(hook: Hook) -> dict[str, Any]:
    """The document to compile: the hook's own fields win over its raw document."""
    return {
        **hook.doc,
        "format": hook.format,
        "http_verb": hook.http_verb,
        "custom_request_headers": dict(hook.custom_request_headers),
    }


class Preparer:
    def __init__(self, auth: HookAuth, *, max_hooks: int = MAX_HOOKS) -> None:
        self._auth = auth
        #: hook id → (the ``Hook`` compiled, what it compiled to)
        self._compiled: BoundedCache[str, tuple[Hook, HookTransforms | TransformError]] = (
            BoundedCache(max_hooks)
        )

    def transforms(self, hook: Hook) -> HookTransforms | TransformError:
        cached = self._compiled.get(hook.id)
        if cached is not None and cached[0] is hook:
            return cached[1]
        try:
            compiled: HookTransforms | TransformError = compile_hook_transforms(_source(hook))
        except TransformError as exc:
            log.warning("hook transforms invalid", hook_id=hook.id, error=str(exc))
            compiled = exc
        self._compiled.put(hook.id, (hook, compiled))
        return compiled

    def settle(self, hook: Hook, outcome: Outcome) -> None:
        """A 401 from the hook's endpoint drops its cached token: the next delivery fetches
        a new one (a token can be revoked before it expires)."""
        if outcome.status == 401:
            self._auth.forget(hook.id)

    def passes(self, hook: Hook, payload: Mapping[str, Any]) -> bool:
        """The hook's filter (step 5 of :mod:`webhooksd.hooks.matching`); invalid transforms
        pass, so that the failure is recorded."""
        compiled = self.transforms(hook)
        # no conditions (most hooks): no call that makes a generator to find that out
        if isinstance(compiled, TransformError) or not compiled.conditions:
            return True
        if compiled.matches(payload):
            return True
        log.debug("hook filter did not match", hook_id=hook.id, account_id=hook.account_id)
        return False

    async def prepare(
        self,
        hook: Hook,
        payload: Mapping[str, Any],
        *,
        msg_id: str,
        timestamp: int,
        auth_fetch: Fetch | None = None,
        auth_wait_s: float | None = None,
    ) -> Prepared:
        """The request for one delivery; an auth pre-request goes through ``auth_fetch``
        (HookAuth's own when None) and waits for another delivery's refresh at most
        ``auth_wait_s``."""
        compiled = self.transforms(hook)
        if isinstance(compiled, TransformError):
            request = build_request(hook, payload, msg_id=msg_id, timestamp=timestamp)
            failure = Outcome(
                kind="final", client_error=f"invalid_hook: {compiled}", reason=INVALID_REASON
            )
            return Prepared(request=request, recorded=request, failure=failure)
        # Most hooks have no transforms: the request is Kazoo's, sent as it is recorded (no
        # copy of the payload, no auth call, no second set of headers, no secret names).
        if _untransformed(compiled):
            request = build_request(hook, payload, msg_id=msg_id, timestamp=timestamp)
            return Prepared(request=request, recorded=request)
        shaped = compiled.shape(payload) if compiled.fields or compiled.renames else payload
        auth = (
            NO_AUTH
            if compiled.auth is None
            else await self._auth.resolve(
                hook.id, compiled.auth, fetch=auth_fetch, wait_s=auth_wait_s
            )
        )
        headers = compiled.render_headers(shaped, auth.variables) if compiled.headers else {}
        if auth.headers:
            headers.update(auth.headers)
        request = build_request(
            hook,
            shaped,
            msg_id=msg_id,
            timestamp=timestamp,
            body_override=compiled.render_body(shaped),
            extra_headers=headers,
        )
        secret = compiled.secret_headers | {name.lower() for name in auth.headers}
        waited = compiled.auth is not None
        if not secret:
            return Prepared(
                request=request,
                recorded=request,
                failure=auth.failure,
                busy=auth.busy,
                waited=waited,
            )
        recorded = replace(
            request,
            headers={k: REDACTED if k.lower() in secret else v for k, v in request.headers.items()},
        )
        return Prepared(
            request=request, recorded=recorded, failure=auth.failure, busy=auth.busy, waited=waited
        )
