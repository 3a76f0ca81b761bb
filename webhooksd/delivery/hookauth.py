"""Credentials a delivery carries: ``basic`` and ``bearer`` headers, and a token fetched by a
pre-request and cached per hook (Webitel's auth pre-request, ``webitel/engine-nodejs``
``hookClass.js`` ``Hook.toAuthRequest`` and the first step of ``Trigger.send``; Kazoo has
none).

Webitel calls the token URL before every event; here the answer is cached per hook until it
expires (``expires_in`` of the answer, else the auth's ``ttl_s``, refreshed a little early),
and only one refresh per hook runs at a time: concurrent deliveries wait for it. The
pre-request goes through ``fetch`` — the daemon passes ``Sender.send``, so it has the same
SSRF guard, timeouts and endpoint breaker as a delivery. A failed pre-request is a failed
attempt (retried when the token endpoint's failure is retryable). Nothing secret is logged.

An event's delivery passes a bounded ``fetch`` of its own to :meth:`HookAuth.resolve` (the
dispatcher's: the token endpoint's breaker checked, a slot on it waited for at most
``endpoint_wait_ms``): a pre-request that cannot start soon, or a refresh of the hook's
token by another delivery that does not end within ``wait_s``, makes the result ``busy``,
and the delivery is deferred like one to a busy endpoint. Before, every delivery waited for
the token endpoint's slots as long as it took: a slow token endpoint held the events of all
its hooks, and their waiters, without bound (issue 13).
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import orjson
import structlog

from webhooksd.bounded import BoundedCache
from webhooksd.delivery.encoding import with_query
from webhooksd.delivery.outcome import Kind, Outcome
from webhooksd.delivery.request import FORM, JSON, OutboundRequest
from webhooksd.transforms import AuthSpec, BasicAuth, BearerAuth, TokenAuth
from webhooksd.transforms.template import as_text

log = structlog.get_logger(__name__)

#: sends a pre-request; None when it did not start (no slot on the token endpoint in time)
Fetch = Callable[[OutboundRequest], Awaitable[Outcome | None]]
Clock = Callable[[], float]

AUTH_FAILED = "auth pre-request failed"
#: cached grants (and their locks) remembered at most
MAX_GRANTS = 10_000
#: a token is refreshed this long before it expires, at most (10 % of its life at least)
EARLY_REFRESH_S = 30.0


@dataclass(frozen=True, slots=True, kw_only=True)
class AuthResult:
    """Headers to add, variables for ``${auth:…}`` header templates, or why there are none."""

    headers: Mapping[str, str] = field(default_factory=dict)
    variables: Mapping[str, str] = field(default_factory=dict)
    failure: Outcome | None = None
    #: the pre-request did not start soon (a bounded ``fetch``): defer the delivery, untried
    busy: bool = False


NO_AUTH = AuthResult()
BUSY = AuthResult(busy=True)


def basic_header(username: str, password: str) -> str:
    """``Basic base64(username:password)`` (RFC 7617, UTF-8)."""
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def bearer_header(token: str) -> str:
    return f"Bearer {token}"


@dataclass(frozen=True, slots=True, kw_only=True)
class _Grant:
    spec: TokenAuth
    expires_at: float
    result: AuthResult


def token_request(spec: TokenAuth) -> OutboundRequest:
    """The pre-request: params as the query string (GET) or the body (POST)."""
    headers = {"Accept": JSON, **dict(spec.headers)}
    params = dict(spec.params)
    url, body = spec.url, b""
    if spec.method == "GET":
        url = with_query(spec.url, urlencode(params))
    elif spec.format == "json":
        body, headers["Content-Type"] = orjson.dumps(params), JSON
    else:
        body, headers["Content-Type"] = urlencode(params).encode(), FORM
    return OutboundRequest(method=spec.method, uri=spec.url, url=url, headers=headers, body=body)


def _answer(text: str) -> dict[str, Any]:
    try:
        decoded = orjson.loads(text) if text else {}
    except orjson.JSONDecodeError:
        return {}
    return decoded if isinstance(decoded, dict) else {}


def _lifetime(answer: Mapping[str, Any], spec: TokenAuth) -> float:
    value = answer.get("expires_in")
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return float(value)
    return float(spec.ttl_s)


def _cookie(headers: Mapping[str, str]) -> tuple[str, str, str] | None:
    """``(cookie pair, name, value)`` of a ``Set-Cookie`` answer header."""
    raw = headers.get("set-cookie")
    if not raw:
        return None
    pair = raw.split(";", 1)[0].strip()
    name, _, value = pair.partition("=")
    return pair, name.strip(), value.strip()


def _variables(answer: Mapping[str, Any], headers: Mapping[str, str]) -> dict[str, str]:
    """Webitel's ``auth:body:<field>`` (scalar fields) and ``auth:header:<name>``."""
    found = {
        f"auth:body:{k}": as_text(v)
        for k, v in answer.items()
        if isinstance(v, str | int | float) and not isinstance(v, bool)
    }
    found.update({f"auth:header:{k.lower()}": v for k, v in headers.items()})
    cookie = _cookie(headers)
    if cookie is not None and cookie[1]:
        found[f"auth:header:{cookie[1]}"] = cookie[2]
    return found


def _failure(outcome: Outcome, why: str | None = None) -> AuthResult:
    detail = why or (
        f"status {outcome.status}" if outcome.status is not None else outcome.client_error
    )
    # a 410 from the token endpoint must not switch the hook off: only retryable stays so
    kind: Kind = "retryable" if outcome.kind == "retryable" else "final"
    failure = Outcome(
        kind=kind,
        client_error=f"auth_failed: {detail}",
        reason=AUTH_FAILED,
        duration_ms=outcome.duration_ms,
        retry_after_s=outcome.retry_after_s,
    )
    return AuthResult(failure=failure)


def grant_from(outcome: Outcome, spec: TokenAuth) -> tuple[AuthResult, float | None]:
    """The headers and variables a token answer gives, and its lifetime in seconds (None
    when the answer is a failure)."""
    if not outcome.ok:
        return _failure(outcome), None
    answer = _answer(outcome.body)
    missing = [source for _, t in spec.set_headers for source in t.missing(answer)]
    if missing:
        return _failure(outcome, f"the token answer has no {', '.join(missing)}"), None
    headers = {name: t.render(answer, "header") for name, t in spec.set_headers}
    cookie = _cookie(outcome.headers)
    if spec.cookie and cookie is not None:
        headers["Cookie"] = cookie[0]
    result = AuthResult(headers=headers, variables=_variables(answer, outcome.headers))
    return result, _lifetime(answer, spec)


class HookAuth:
    """Auth headers for hooks, with the token cache."""

    def __init__(
        self, fetch: Fetch, *, clock: Clock = time.monotonic, max_grants: int = MAX_GRANTS
    ) -> None:
        self._fetch = fetch
        self._clock = clock
        self._grants: BoundedCache[str, _Grant] = BoundedCache(max_grants)
        # a lock evicted while held (``max_grants`` other hooks refreshed since) costs at most
        # one extra concurrent refresh of that hook, never a wrong token
        self._locks: BoundedCache[str, asyncio.Lock] = BoundedCache(max_grants)

    async def resolve(
        self,
        hook_id: str,
        spec: AuthSpec | None,
        *,
        fetch: Fetch | None = None,
        wait_s: float | None = None,
    ) -> AuthResult:
        """What a delivery of ``hook_id`` must carry for ``spec``; a pre-request goes through
        ``fetch`` if given (else the one HookAuth was made with), and a refresh by another
        delivery is waited for at most ``wait_s`` (None: as long as it takes)."""
        if spec is None:
            return NO_AUTH
        if isinstance(spec, BasicAuth):
            return AuthResult(headers={"Authorization": basic_header(spec.username, spec.password)})
        if isinstance(spec, BearerAuth):
            return AuthResult(headers={"Authorization": bearer_header(spec.token)})
        return await self._token(hook_id, spec, fetch or self._fetch, wait_s)

    def forget(self, hook_id: str) -> None:
        """Drop a cached token (the next delivery fetches a new one)."""
        self._grants.pop(hook_id)

    def _fresh(self, hook_id: str, spec: TokenAuth) -> AuthResult | None:
        grant = self._grants.get(hook_id)
        if grant is None or grant.spec != spec or grant.expires_at <= self._clock():
            return None
        return grant.result

    async def _token(
        self, hook_id: str, spec: TokenAuth, fetch: Fetch, wait_s: float | None
    ) -> AuthResult:
        cached = self._fresh(hook_id, spec)
        if cached is not None:
            return cached
        lock = self._locks.setdefault(hook_id, asyncio.Lock)
        try:
            async with asyncio.timeout(wait_s):
                await lock.acquire()
        except TimeoutError:
            return BUSY  # another delivery's refresh is slow: this one waits in the queue
        try:
            cached = self._fresh(hook_id, spec)  # a concurrent delivery refreshed it
            if cached is not None:
                return cached
            answer = await fetch(token_request(spec))
            if answer is None:
                return BUSY
            result, lifetime = grant_from(answer, spec)
            if lifetime is None:
                log.info("auth pre-request failed", hook_id=hook_id, error=_error(result))
                return result
            self._keep(hook_id, spec, result, lifetime)
            log.debug("auth token fetched", hook_id=hook_id, lifetime_s=lifetime)
            return result
        finally:
            lock.release()

    def _keep(self, hook_id: str, spec: TokenAuth, result: AuthResult, lifetime: float) -> None:
        early = min(EARLY_REFRESH_S, lifetime / 10)
        grant = _Grant(spec=spec, expires_at=self._clock() + lifetime - early, result=result)
        self._grants.put(hook_id, grant)


def _error(result: AuthResult) -> str | None:
    return result.failure.client_error if result.failure is not None else None
