"""Sending one request (Kazoo ``kz_http`` with the timeouts Kazoo meant to apply).

One ``aiohttp.ClientSession`` per daemon. Each endpoint (``scheme://host:port``) gets at most
``endpoint_concurrency`` requests in flight, so one slow receiver cannot take the pool. What
may wait in memory for one of those slots is bounded too: :meth:`Sender.try_send` waits behind
at most ``endpoint_queue`` others, as long as the endpoint keeps freeing slots (it gives up
once ``endpoint_wait_ms`` pass with none freed, and after the stall bound, half the request
timeout, in any case), and otherwise does not start (the dispatcher hands such an attempt to
the durable retry queue rather than hold the event). The wait is bounded by the endpoint's
progress, not by a fixed time: on an event loop saturated by the daemon's own work a healthy
endpoint's slots turn over slower than ``endpoint_wait_ms`` for a waiter far back in the
queue, and a fixed bound deferred its attempts, which fed the saturation and filled the
hook's retry backlog until the hook was disabled (the benchmark's one fast account).
After ``breaker_failures`` retryable failures in a row an endpoint is known to be failing for
``breaker_cooldown_ms``: :meth:`Sender.circuit_open` then answers for it without a request,
with the last error it gave. The first attempt after the cool-down is the probe that closes
or reopens the breaker, and while it is in flight the breaker still answers for the others
(half-open): letting every attempt through at the end of each cool-down gave a dead
endpoint a full round of requests, and its tenant a burst of deferrals that the other
tenants' events waited behind (issue 13).
"""

from __future__ import annotations

import asyncio
import errno
import sys
import time
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

import aiohttp
from yarl import URL

from webhooksd.bounded import BoundedCache
from webhooksd.config import Settings
from webhooksd.delivery.outcome import BAD_RESPONSE, CLIENT_ERROR, Outcome, classify, retry_after
from webhooksd.delivery.request import USER_AGENT, OutboundRequest, endpoint_of, wire_url
from webhooksd.delivery.ssrf import GuardedResolver, TargetBlocked, TargetPolicy, is_blocked_error

#: endpoints whose limiter and breaker state are remembered at most (and as many checked URIs)
MAX_ENDPOINTS = 10_000
#: how the ``client_error`` of an attempt failed by an open breaker begins
CIRCUIT_OPEN = "circuit open"


def stall_s(settings: Settings) -> float:
    """How long something of one tenant may go without progress before it counts as stuck:
    half the request timeout (and no less than ``endpoint_wait_ms``). An endpoint none of
    whose slots was freed for that long is stalled, and an account whose oldest event has
    been in flight that long holds its share of the prefetch (the dispatcher). A shorter
    bound (``endpoint_wait_ms``) was reached by a healthy endpoint's slots, and a fast
    account's events, whenever the event loop was held up by the daemon's own work."""
    return max(settings.endpoint_wait_ms, settings.request_timeout_ms / 2) / 1000


class _Endpoint:
    """One endpoint's slots (a semaphore whose waiters are counted and may give up) and its
    breaker."""

    __slots__ = (
        "concurrency",
        "failures",
        "freed",
        "in_flight",
        "last_error",
        "open_until",
        "probe_until",
        "probing",
        "progressed",
        "stall_s",
        "waiters",
    )

    def __init__(self, concurrency: int, stall_s: float) -> None:
        self.concurrency = concurrency
        self.stall_s = stall_s
        self.in_flight = 0
        self.waiters: deque[asyncio.Future[None]] = deque()
        self.failures = 0
        self.open_until = 0.0
        self.last_error = ""
        #: the half-open breaker's probe is in flight, and when it will have answered
        self.probing = False
        self.probe_until = 0.0
        #: when a slot was last freed, or the slots last became all taken (monotonic)
        self.progressed = time.monotonic()
        #: slots freed so far: a waiter sees from it whether the endpoint made progress
        self.freed = 0

    async def acquire(self, wait_s: float | None, max_waiters: int, cap_s: float | None) -> bool:
        """Take a slot; wait behind at most ``max_waiters`` others while the endpoint makes
        progress: give up once ``wait_s`` pass with no slot freed, or ``cap_s`` in all (None:
        wait as long as it takes). False when no slot was taken.

        Progress, not a fixed time: a waiter 90th in line for a healthy endpoint's 10 slots,
        on a loop saturated by the daemon's own work, waits longer than ``wait_s`` while the
        slots turn over every few milliseconds. A slow endpoint (answers taking seconds)
        frees none for ``wait_s`` and its waiters give up as before. (A wait whose timer
        fired late, the loop held up, is not given another round: under a loaded loop that
        kept a stalled endpoint's waiters, and their events, for the whole ``cap_s``, and
        the other tenants' events waited behind them.)"""
        if self.in_flight < self.concurrency and not self.waiters:
            self.in_flight += 1
            if self.in_flight == self.concurrency:
                self.progressed = time.monotonic()
            return True
        if wait_s is not None and (
            wait_s <= 0 or len(self.waiters) >= max_waiters or self.stalled()
        ):
            return False
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.waiters.append(waiter)
        started = time.monotonic()
        try:
            while True:
                freed, armed = self.freed, time.monotonic()
                timeout = wait_s
                if wait_s is not None and cap_s is not None:
                    timeout = max(0.0, min(wait_s, started + cap_s - armed))
                # asyncio.wait, not wait_for: a slot handed over as the time runs out is kept
                await asyncio.wait((waiter,), timeout=timeout)
                if waiter.done():
                    return True  # release() handed its slot over: in_flight is unchanged
                assert wait_s is not None, "an unbounded wait ends with a slot"
                now = time.monotonic()
                if cap_s is not None and now - started >= cap_s:
                    break
                if self.freed == freed:
                    break  # none freed for a whole wait_s: no progress
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                self.release()  # granted, then cancelled: pass the slot on
            else:
                self._forget(waiter)
            raise
        self._forget(waiter)
        return False

    def full(self, max_waiters: int) -> bool:
        return self.in_flight >= self.concurrency and (
            len(self.waiters) >= max_waiters or self.stalled()
        )

    def stalled(self) -> bool:
        """Every slot taken and none freed for ``stall_s``: an attempt that waits would very
        likely wait for nothing (a receiver holding each request for seconds). It does not
        start: preparing and parking 100 waiters per event, each to give up after
        ``endpoint_wait_ms``, was much of what a slow tenant cost the others (issue 13).
        ``stall_s`` is half the request timeout, not ``endpoint_wait_ms``: with the shorter
        bound an event loop stalled for a moment by other work made a fast endpoint's slots
        look stuck, and its events were deferred for seconds."""
        return (
            self.in_flight >= self.concurrency
            and time.monotonic() - self.progressed >= self.stall_s
        )

    def _forget(self, waiter: asyncio.Future[None]) -> None:
        waiter.cancel()
        with suppress(ValueError):
            self.waiters.remove(waiter)

    def release(self) -> None:
        self.progressed = time.monotonic()
        self.freed += 1
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # the slot goes straight to the first waiter
                return
        self.in_flight -= 1


class Sender:
    def __init__(
        self, session: aiohttp.ClientSession, settings: Settings, policy: TargetPolicy
    ) -> None:
        self._session = session
        self._settings = settings
        self._policy = policy
        self._endpoints: BoundedCache[str, _Endpoint] = BoundedCache(MAX_ENDPOINTS)
        #: URIs that passed the checks of ``_refuse``, with their endpoint key: parsing the
        #: URL and its IP literal for every event was a measurable cost
        self._checked: BoundedCache[str, str] = BoundedCache(MAX_ENDPOINTS)
        #: the yarl URL of each URI sent as it is (no GET query): parsing it again for every
        #: request was a measurable share of what the sender itself costs
        self._wire: BoundedCache[str, URL] = BoundedCache(MAX_ENDPOINTS)
        self._timeout = aiohttp.ClientTimeout(
            total=settings.request_timeout_ms / 1000,
            connect=settings.connect_timeout_ms / 1000,
        )

    @classmethod
    @asynccontextmanager
    async def open(cls, settings: Settings) -> AsyncIterator[Sender]:
        policy = TargetPolicy(
            allow_private=settings.allow_private_targets,
            allowed_networks=settings.allowed_target_networks,
        )
        connector = aiohttp.TCPConnector(
            limit=200, limit_per_host=0, ttl_dns_cache=10, resolver=GuardedResolver(policy)
        )
        async with aiohttp.ClientSession(
            connector=connector,
            trust_env=False,
            auto_decompress=True,
            headers={"User-Agent": USER_AGENT},
        ) as session:
            yield cls(session, settings, policy)
        # let the closed connections' transports finish closing before their sockets are
        # collected (else: ResourceWarning: unclosed socket)
        await asyncio.sleep(0)

    def _endpoint(self, key: str) -> _Endpoint:
        endpoint = self._endpoints.get(key)  # no closure made for the endpoint known already
        if endpoint is None:
            endpoint = _Endpoint(self._settings.endpoint_concurrency, stall_s(self._settings))
            self._endpoints.put(key, endpoint)
        return endpoint

    def _known(self, request: OutboundRequest) -> _Endpoint | None:
        return self._known_uri(request.uri)

    def _known_uri(self, uri: str) -> _Endpoint | None:
        """The state of the endpoint of ``uri`` if it has any (None for a URI too broken to
        name one: the sender refuses it when it is sent)."""
        key = self._checked.get(uri)
        if key is None:
            try:
                key = endpoint_of(uri)
            except ValueError:  # e.g. an unclosed IPv6 bracket
                return None
        return self._endpoints.get(key)

    def failing_for_s(self, request: OutboundRequest) -> float:
        """Seconds until the endpoint's breaker lets a probe through (0 when closed)."""
        endpoint = self._known(request)
        if endpoint is None:
            return 0.0
        # while the probe is in flight, until it has answered: the attempts it holds back
        # are then retried after it, not again and again while it waits (issue 13)
        until = max(endpoint.open_until, endpoint.probe_until if endpoint.probing else 0.0)
        return max(0.0, until - time.monotonic())

    def circuit_open(self, request: OutboundRequest) -> Outcome | None:
        """The failure an attempt to a failing endpoint comes to without being sent (its
        breaker is open), naming the endpoint's last error; None when it may be sent."""
        endpoint = self._known(request)
        if endpoint is None or not _refusing(endpoint):
            return None
        return Outcome(
            kind="retryable",
            client_error=f"{CIRCUIT_OPEN}: {endpoint.last_error}",
            reason=CLIENT_ERROR,
        )

    def holds_back(self, uri: str, *, busy: bool = True) -> bool:
        """Whether an attempt to ``uri`` would not be sent now: its endpoint's breaker is
        open (:meth:`circuit_open` tells the failure) or, with ``busy``, the endpoint is
        :meth:`busy`. One look-up, and no request built to ask."""
        endpoint = self._known_uri(uri)
        return endpoint is not None and (
            _refusing(endpoint) or (busy and endpoint.full(self._settings.endpoint_queue))
        )

    def busy(self, request: OutboundRequest) -> bool:
        """Every slot of the endpoint is taken and ``endpoint_queue`` attempts wait already,
        or none was freed for half the request timeout: :meth:`try_send` would not start (so
        the request need not even be built)."""
        endpoint = self._known(request)
        return endpoint is not None and endpoint.full(self._settings.endpoint_queue)

    async def send(self, request: OutboundRequest) -> Outcome:
        """Send, waiting for a slot on the endpoint as long as it takes (test and replay
        sends, auth pre-requests)."""
        outcome = await self.try_send(request, start_within_s=None)
        assert outcome is not None, "an unbounded wait always gets a slot"
        return outcome

    def stalled(self, request: OutboundRequest) -> bool:
        """Every slot of the endpoint taken and none freed for the stall bound."""
        endpoint = self._known(request)
        return endpoint is not None and endpoint.stalled()

    async def try_send(
        self, request: OutboundRequest, *, start_within_s: float | None, patient: bool = False
    ) -> Outcome | None:
        """Send, unless the endpoint frees no slot for ``start_within_s`` while this attempt
        waits (and it waits no longer than that or the stall bound, whichever is longer, in
        all), or ``endpoint_queue`` attempts wait already:
        then None, and nothing was sent. ``patient``: behind any number of others, until the
        endpoint is stalled or for the stall bound at most (an attempt the dispatcher could
        not defer: its hook's retry backlog is full)."""
        key = self._checked.get(request.uri)
        if key is None:
            refused = self._refuse(request)
            if refused is not None:  # never sent, so it tells nothing about the endpoint
                return refused
            key = request.endpoint
            self._checked.put(request.uri, key)
        endpoint = self._endpoint(key)
        if patient:
            # no bound on those ahead: each holds its event, so the prefetch bounds them;
            # the stall bound in all, past which a healthy endpoint has long turned over
            taken = await endpoint.acquire(endpoint.stall_s, sys.maxsize, endpoint.stall_s)
        else:
            cap_s = None if start_within_s is None else max(start_within_s, endpoint.stall_s)
            taken = await endpoint.acquire(start_within_s, self._settings.endpoint_queue, cap_s)
        if not taken:
            return None
        probe = False
        if start_within_s is not None:
            if _refusing(endpoint):
                # the breaker opened (or its probe left) while this attempt waited: it must
                # not take the slot the failing requests just freed (a slow endpoint would
                # get a second round of them)
                endpoint.release()
                return self.circuit_open(request)
            # past the cool-down of a breaker that opened: this attempt is its one probe
            probe = endpoint.probing = 0 < self._settings.breaker_failures <= endpoint.failures
            if probe:
                endpoint.probe_until = time.monotonic() + self._settings.request_timeout_ms / 1000
        try:
            outcome = await self._send(request)
        finally:
            endpoint.release()
            if probe:
                endpoint.probing = False
        if outcome.kind == "retryable":
            endpoint.failures += 1
            endpoint.last_error = outcome.client_error or f"http {outcome.status}"
            if 0 < self._settings.breaker_failures <= endpoint.failures:  # 0 turns it off
                endpoint.open_until = time.monotonic() + self._settings.breaker_cooldown_ms / 1000
        else:
            endpoint.failures, endpoint.open_until = 0, 0.0
        return outcome

    def _refuse(self, request: OutboundRequest) -> Outcome | None:
        """A final failure for a URL that must not be sent: unparsable, not http(s), no
        host, or an IP literal the SSRF guard refuses (literals bypass the resolver)."""
        started = time.perf_counter()
        try:
            url = URL(request.url)
        except ValueError as exc:
            return _malformed(f"malformed_url: {exc}", started)
        if url.scheme not in ("http", "https"):
            return _malformed(f"unsupported_scheme: {url.scheme or 'none'}", started)
        if not url.host:
            return _malformed(f"malformed_url: no host in {request.uri}", started)
        try:
            self._policy.check_literal(url.host)
        except TargetBlocked as exc:
            return _blocked(str(exc), started)
        return None

    async def _send(self, request: OutboundRequest) -> Outcome:
        started = time.perf_counter()
        try:
            # the headers as they are: aiohttp copies them into its own multidict anyway
            async with self._session.request(
                request.method,
                self._wire_url(request),
                data=request.body or None,
                headers=request.headers,
                allow_redirects=False,
                timeout=self._timeout,
            ) as resp:
                body = await resp.content.read(self._settings.max_response_body_bytes)
                status = resp.status
                kind = classify(status)
                headers = resp.headers
                return Outcome(
                    kind=kind,
                    status=status,
                    headers={k.lower(): v for k, v in headers.items()},
                    body=body.decode("utf-8", "replace") if body else "",
                    reason=None if kind == "success" else BAD_RESPONSE,
                    duration_ms=_ms(started),
                    # only a retried failure waits for it
                    retry_after_s=(
                        retry_after(headers.get("Retry-After")) if kind == "retryable" else None
                    ),
                )
        except TimeoutError:
            return Outcome(
                kind="retryable",
                client_error="timeout",
                reason=CLIENT_ERROR,
                duration_ms=_ms(started),
            )
        except aiohttp.InvalidURL as exc:  # retrying cannot mend a URL (Kazoo retried)
            return _malformed(_client_error(exc), started)
        except aiohttp.ClientError as exc:
            if is_blocked_error(exc):
                return _blocked(str(exc), started)
            return Outcome(
                kind="retryable",
                client_error=_client_error(exc),
                reason=CLIENT_ERROR,
                duration_ms=_ms(started),
            )
        except (OSError, ValueError) as exc:
            if is_blocked_error(exc):
                return _blocked(str(exc), started)
            return _malformed(f"malformed_url: {exc}", started)

    def _wire_url(self, request: OutboundRequest) -> URL:
        """:func:`wire_url` of the request's URL, remembered for a URL that is the hook's URI
        (a GET's query string makes one URL per event: not worth remembering). A URL that
        does not parse raises, as :func:`wire_url` does, and is not remembered."""
        if request.url != request.uri:
            return wire_url(request.url)
        url = self._wire.get(request.url)
        if url is None:
            url = wire_url(request.url)
            self._wire.put(request.url, url)
        return url


def _refusing(endpoint: _Endpoint) -> bool:
    """The endpoint's breaker is open, or half-open with its probe in flight."""
    return endpoint.probing or endpoint.open_until > time.monotonic()


def _malformed(client_error: str, started: float) -> Outcome:
    return Outcome(
        kind="final", client_error=client_error, reason=CLIENT_ERROR, duration_ms=_ms(started)
    )


def _blocked(message: str, started: float) -> Outcome:
    return Outcome(
        kind="final",
        client_error=f"ssrf_blocked: {message}",
        reason="target address not allowed",
        duration_ms=_ms(started),
    )


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)


def _client_error(exc: aiohttp.ClientError) -> str:
    """Kazoo-style ``client_error`` strings (``failed_connect: econnrefused``…)."""
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return "nxdomain"
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return f"tls_error: {exc.certificate_error}"
    if isinstance(exc, aiohttp.ClientSSLError):  # an errno here (1) would say nothing
        return f"tls_error: {exc.os_error}"
    if isinstance(exc, aiohttp.ClientConnectorError):
        code = errno.errorcode.get(exc.os_error.errno or 0)
        return f"failed_connect: {code.lower() if code else exc.os_error}"
    if isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError):
        return "socket_closed_remotely"
    if isinstance(exc, aiohttp.NonHttpUrlClientError):
        return f"unsupported_scheme: {exc}"
    if isinstance(exc, aiohttp.InvalidURL):
        return f"malformed_url: {exc}"
    return type(exc).__name__
