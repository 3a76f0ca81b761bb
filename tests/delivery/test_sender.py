"""Sending against real loopback receivers: statuses, transport errors, timeouts, the SSRF
guard and per-endpoint concurrency."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from tests.loopback import serving
from tests.waiting import eventually
from webhooksd.config import Settings, load
from webhooksd.delivery.request import OutboundRequest
from webhooksd.delivery.sender import Sender
from webhooksd.delivery.ssrf import TargetPolicy


def _settings(**changes: object) -> Settings:
    return load(environ={}).replace(allow_private_targets=True, **changes)


@pytest.fixture(name="server")
async def _server() -> AsyncIterator[tuple[str, dict[str, int]]]:
    """A receiver whose path says what to answer: /status/<code>, /hang, /big, /slow."""
    state = {"inflight": 0, "peak": 0}

    async def status(request: web.Request) -> web.Response:
        code = int(request.match_info["code"])
        headers = {"Retry-After": "3"} if code == 429 else {}
        if code in (301, 302):
            headers["Location"] = "http://127.0.0.1:9/elsewhere"
        return web.Response(status=code, text=f"answer {code}", headers=headers)

    async def hang(request: web.Request) -> web.Response:
        await asyncio.sleep(30)
        return web.Response()

    async def big(request: web.Request) -> web.Response:
        return web.Response(body=b"x" * 100_000)

    async def slow(request: web.Request) -> web.Response:
        state["inflight"] += 1
        state["peak"] = max(state["peak"], state["inflight"])
        await asyncio.sleep(0.1)
        state["inflight"] -= 1
        return web.Response()

    app = web.Application()
    app.router.add_route("*", "/status/{code}", status)
    app.router.add_get("/hang", hang)
    app.router.add_get("/big", big)
    app.router.add_get("/slow", slow)
    async with serving(app, shutdown_timeout=0.1) as url:
        yield url, state


def _get(url: str) -> OutboundRequest:
    return OutboundRequest(method="GET", uri=url, url=url)


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        (200, "success"),
        (201, "success"),
        (204, "success"),
        (301, "final"),
        (400, "final"),
        (404, "final"),
        (410, "gone"),
        (429, "retryable"),
        (500, "retryable"),
        (503, "retryable"),
    ],
)
async def test_status_classification(
    server: tuple[str, dict[str, int]], code: int, kind: str
) -> None:
    """Each status is classified; redirects are not followed; Retry-After is read."""
    async with Sender.open(_settings()) as sender:
        outcome = await sender.send(_get(f"{server[0]}/status/{code}"))
    assert outcome.kind == kind and outcome.status == code
    assert outcome.body == ("" if code == 204 else f"answer {code}")
    if code == 429:
        assert outcome.retry_after_s == 3.0


async def test_connection_refused_is_retryable() -> None:
    """A closed port is a retryable transport failure in Kazoo's words."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with Sender.open(_settings()) as sender:
        outcome = await sender.send(_get(f"http://127.0.0.1:{port}/"))
    assert outcome.kind == "retryable" and outcome.status is None
    assert outcome.client_error == "failed_connect: econnrefused"
    assert outcome.reason == "kazoo http client error"


async def test_tls_to_a_plain_http_receiver_is_a_tls_error(
    server: tuple[str, dict[str, int]],
) -> None:
    """https:// to a server that speaks plain HTTP says TLS (it said "failed_connect: eperm",
    the SSL error's errno, before)."""
    url = server[0].replace("http://", "https://") + "/status/200"
    async with Sender.open(_settings()) as sender:
        outcome = await sender.send(_get(url))
    assert outcome.client_error is not None and outcome.client_error.startswith("tls_error: ")
    assert "WRONG_VERSION_NUMBER" in outcome.client_error


async def test_a_receiver_that_never_answers_times_out(server: tuple[str, dict[str, int]]) -> None:
    """The total timeout applies (Kazoo's request timeout was dead configuration)."""
    async with Sender.open(_settings(request_timeout_ms=300)) as sender:
        outcome = await sender.send(_get(f"{server[0]}/hang"))
    assert outcome.kind == "retryable" and outcome.client_error == "timeout"
    assert 250 <= outcome.duration_ms < 5000


async def test_response_body_is_capped(server: tuple[str, dict[str, int]]) -> None:
    """Only max_response_body_bytes of a response are kept."""
    async with Sender.open(_settings(max_response_body_bytes=1000)) as sender:
        outcome = await sender.send(_get(f"{server[0]}/big"))
    assert outcome.ok and len(outcome.body) == 1000


async def test_endpoint_concurrency_is_bounded(server: tuple[str, dict[str, int]]) -> None:
    """No more than endpoint_concurrency requests reach one endpoint at once."""
    async with Sender.open(_settings(endpoint_concurrency=3)) as sender:
        outcomes = await asyncio.gather(
            *(sender.send(_get(f"{server[0]}/slow")) for _ in range(12))
        )
    assert all(o.ok for o in outcomes)
    assert server[1]["peak"] == 3


async def test_an_attempt_that_cannot_start_soon_is_not_sent(
    server: tuple[str, dict[str, int]],
) -> None:
    """With every slot busy, try_send waits at most start_within_s and behind at most
    endpoint_queue others, then gives up unsent (None); a slot freed in time is taken."""
    async with Sender.open(_settings(endpoint_concurrency=2, endpoint_queue=1)) as sender:
        busy = [asyncio.create_task(sender.send(_get(f"{server[0]}/slow"))) for _ in range(2)]
        await asyncio.sleep(0)  # both take their slot
        # one may wait (the 0.1 s requests end well within 5 s); the next finds the queue full
        waiting = asyncio.create_task(
            sender.try_send(_get(f"{server[0]}/slow"), start_within_s=5.0)
        )
        await asyncio.sleep(0)
        assert await sender.try_send(_get(f"{server[0]}/slow"), start_within_s=5.0) is None
        assert await sender.try_send(_get(f"{server[0]}/slow"), start_within_s=0) is None
        late = await waiting
        assert late is not None and late.ok
        assert all(o.ok for o in await asyncio.gather(*busy))
        # nothing waits now: a free slot is taken at once
        free = await sender.try_send(_get(f"{server[0]}/slow"), start_within_s=0)
        assert free is not None and free.ok
    assert server[1]["peak"] == 2


async def test_busy_says_when_an_attempt_would_not_start(
    server: tuple[str, dict[str, int]],
) -> None:
    """busy() is true only while every slot is taken and the waiting room is full."""
    async with Sender.open(_settings(endpoint_concurrency=1, endpoint_queue=1)) as sender:
        request = _get(f"{server[0]}/slow")
        assert not sender.busy(request)
        first = asyncio.create_task(sender.send(request))
        await asyncio.sleep(0)
        assert not sender.busy(request)  # one may still wait
        second = asyncio.create_task(sender.try_send(request, start_within_s=5.0))
        await asyncio.sleep(0)
        assert sender.busy(request)
        assert (await first).ok
        done = await second
        assert done is not None and done.ok
        assert not sender.busy(request)


async def test_a_waiter_does_not_take_a_slot_once_the_breaker_opened(
    server: tuple[str, dict[str, int]],
) -> None:
    """The request that opens the breaker frees its slot; the attempt waiting for it gets the
    breaker's failure, not a request to the failing endpoint."""
    settings = _settings(endpoint_concurrency=1, breaker_failures=1, request_timeout_ms=300)
    async with Sender.open(settings) as sender:
        hung = asyncio.create_task(sender.send(_get(f"{server[0]}/hang")))
        await asyncio.sleep(0)
        waiting = await sender.try_send(_get(f"{server[0]}/slow"), start_within_s=5.0)
        assert (await hung).client_error == "timeout"
        assert waiting is not None and waiting.client_error == "circuit open: timeout"
    assert server[1]["peak"] == 0  # /slow was never called


async def test_a_waiting_attempt_gives_up_after_its_bound(
    server: tuple[str, dict[str, int]],
) -> None:
    """An attempt waiting behind a hung request gives up after start_within_s, and its giving
    up leaves the slot count right (the hung request's slot still frees one waiter)."""
    async with Sender.open(_settings(endpoint_concurrency=1, request_timeout_ms=500)) as sender:
        hung = asyncio.create_task(sender.send(_get(f"{server[0]}/hang")))
        await asyncio.sleep(0)
        assert await sender.try_send(_get(f"{server[0]}/slow"), start_within_s=0.05) is None
        assert (await hung).client_error == "timeout"
        after = await sender.try_send(_get(f"{server[0]}/slow"), start_within_s=0)
        assert after is not None and after.ok


async def test_an_open_breaker_answers_with_the_last_error(
    server: tuple[str, dict[str, int]],
) -> None:
    """circuit_open names the endpoint's last error while its breaker is open, None after a
    success."""
    async with Sender.open(_settings()) as sender:
        failing = _get(f"{server[0]}/status/503")
        assert sender.circuit_open(failing) is None
        for _ in range(5):
            await sender.send(failing)
        opened = sender.circuit_open(failing)
        assert opened is not None and opened.kind == "retryable"
        assert opened.client_error == "circuit open: http 503"
        await sender.send(_get(f"{server[0]}/status/200"))
        assert sender.circuit_open(failing) is None


async def test_an_endpoint_whose_slots_free_none_for_the_wait_is_busy(
    server: tuple[str, dict[str, int]],
) -> None:
    """Once every slot has been held for half the request timeout with none freed, busy() is
    true with the waiting room empty, and try_send gives up rather than wait: a slow
    receiver's attempts are not prepared and parked only to give up later. Before: each
    waited (up to 100 per endpoint, each event), and busy() said no."""
    settings = _settings(endpoint_concurrency=1, endpoint_wait_ms=50, request_timeout_ms=4000)
    async with Sender.open(settings) as sender:
        request = _get(f"{server[0]}/slow")
        hung = asyncio.create_task(sender.send(_get(f"{server[0]}/hang")))
        await asyncio.sleep(0)
        assert not sender.busy(request)  # just taken: an attempt may still wait for it
        await eventually(lambda: sender.busy(request), what="stalled endpoint busy")
        # an attempt allowed to wait as long gives up at once (the dispatcher's is the same)
        assert await sender.try_send(request, start_within_s=0.05) is None
        assert not hung.done()  # it gave up while the slot was still held
        hung.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await hung
        freed = await sender.try_send(request, start_within_s=0.05)
        assert freed is not None and freed.ok
    assert server[1]["peak"] == 1


async def test_a_half_open_breaker_lets_one_probe_through(
    server: tuple[str, dict[str, int]],
) -> None:
    """After the cool-down one attempt is the probe; while it is in flight every other
    attempt still gets the breaker's failure, unsent, rather than a slot on the endpoint
    (which would give a dead endpoint a full round of requests each cool-down). A failed
    probe reopens the breaker, a successful one closes it. Before: every attempt after the
    cool-down was sent."""
    settings = _settings(
        # the probe hangs for the whole request timeout: long enough that the others are
        # tried while it is surely in flight, however loaded the machine
        endpoint_concurrency=5,
        breaker_failures=1,
        breaker_cooldown_ms=200,
        request_timeout_ms=2000,
    )
    async with Sender.open(settings) as sender:
        base = server[0]
        await sender.send(_get(f"{base}/status/503"))
        assert sender.circuit_open(_get(f"{base}/slow")) is not None
        await eventually(lambda: sender.circuit_open(_get(f"{base}/slow")) is None, what="cool")
        probe = asyncio.create_task(sender.try_send(_get(f"{base}/hang"), start_within_s=1.0))
        await eventually(lambda: sender.circuit_open(_get(f"{base}/slow")), what="probing")
        others = await asyncio.gather(
            *(sender.try_send(_get(f"{base}/slow"), start_within_s=1.0) for _ in range(4))
        )
        assert [o.client_error if o else None for o in others] == ["circuit open: http 503"] * 4
        # they are retried once the probe has answered, not again while it waits
        assert sender.failing_for_s(_get(f"{base}/slow")) > 1.0
        failed = await probe
        assert failed is not None and failed.client_error == "timeout"
        assert sender.failing_for_s(_get(f"{base}/slow")) > 0  # reopened
        await eventually(lambda: sender.circuit_open(_get(f"{base}/slow")) is None, what="cool")
        closed = await sender.try_send(_get(f"{base}/status/200"), start_within_s=1.0)
        assert closed is not None and closed.ok
        after = await asyncio.gather(
            *(sender.try_send(_get(f"{base}/slow"), start_within_s=1.0) for _ in range(4))
        )
        assert all(o is not None and o.ok for o in after)
    assert server[1]["peak"] >= 2  # closed: the attempts ran side by side again


async def test_breaker_opens_after_repeated_failures(server: tuple[str, dict[str, int]]) -> None:
    """An endpoint failing again and again is known to be failing; a success closes it."""
    async with Sender.open(_settings()) as sender:
        failing = _get(f"{server[0]}/status/503")
        for _ in range(5):
            await sender.send(failing)
        assert sender.failing_for_s(failing) > 0
        await sender.send(_get(f"{server[0]}/status/200"))
        assert sender.failing_for_s(failing) == 0


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "::1",
        "10.1.2.3",
        "172.16.5.4",
        "172.31.255.255",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "224.0.0.1",
        "::ffff:127.0.0.1",
        "fc00::1",
        "fe80::1",
    ],
)
def test_policy_refuses_non_global_addresses(address: str) -> None:
    """Loopback, private, link-local, metadata, CGNAT, multicast and mapped forms are refused."""
    assert not TargetPolicy(allow_private=False).permits(ipaddress.ip_address(address))
    assert TargetPolicy(allow_private=True).permits(ipaddress.ip_address(address))


def test_policy_allows_global_and_allow_listed() -> None:
    """Public addresses pass; an allow-listed private network passes."""
    policy = TargetPolicy(allow_private=False, allowed_networks=["10.0.0.0/8"])
    assert policy.permits(ipaddress.ip_address("93.184.216.34"))
    assert policy.permits(ipaddress.ip_address("10.9.9.9"))
    assert not policy.permits(ipaddress.ip_address("192.168.0.1"))


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "[::1]",
        "localhost",
        # IPv6 literals that carry a loopback IPv4 address, refused before any connect
        "[::7f00:1]",
        "[::ffff:0:7f00:1]",
        "[64:ff9b:1::7f00:1]",
        "[fec0::1]",
    ],
)
async def test_sender_never_reaches_a_blocked_target(
    server: tuple[str, dict[str, int]], host: str
) -> None:
    """Without allow_private_targets, loopback literals and names resolving to loopback are
    refused before any byte is sent, as a final failure."""
    port = server[0].rsplit(":", 1)[1]
    settings = load(environ={}).replace(allow_private_targets=False)
    async with Sender.open(settings) as sender:
        outcome = await sender.send(_get(f"http://{host}:{port}/slow"))
    assert outcome.kind == "final" and outcome.status is None
    assert outcome.client_error is not None and "blocked" in outcome.client_error
    assert server[1]["peak"] == 0


@pytest.mark.parametrize(
    "address",
    [
        "64:ff9b::7f00:1",
        "64:ff9b::a00:1",
        "2002:7f00:1::1",
        "2002:c0a8:101::1",
        "240.0.0.1",
        "::7f00:1",
        "::a00:1",
        "::ffff:0:7f00:1",
        "::ffff:0:a9fe:a9fe",
        "64:ff9b:1::808:808",
        "fec0::1",
        "2001:0:4136:e378:8000:63bf:80ff:fffe",
    ],
)
def test_policy_refuses_ipv4_hidden_in_ipv6_and_reserved(address: str) -> None:
    """NAT64 and 6to4 addresses carrying a private IPv4 one, and reserved space, are refused."""
    assert not TargetPolicy(allow_private=False).permits(ipaddress.ip_address(address))


def test_policy_allows_public_ipv4_inside_ipv6() -> None:
    """A NAT64 or 6to4 address of a public IPv4 one is public."""
    policy = TargetPolicy(allow_private=False)
    assert policy.permits(ipaddress.ip_address("64:ff9b::808:808"))
    assert policy.permits(ipaddress.ip_address("2002:808:808::1"))
    assert policy.permits(ipaddress.ip_address("::808:808"))
    assert policy.permits(ipaddress.ip_address("::ffff:0:808:808"))


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
async def test_allow_listed_network_is_reached(
    server: tuple[str, dict[str, int]], host: str
) -> None:
    """An allow-listed network is reachable even though private targets are refused."""
    port = server[0].rsplit(":", 1)[1]
    settings = load(environ={}).replace(
        allow_private_targets=False, allowed_target_networks=("127.0.0.0/8", "::1/128")
    )
    async with Sender.open(settings) as sender:
        outcome = await sender.send(_get(f"http://{host}:{port}/slow"))
    assert outcome.ok and server[1]["peak"] == 1


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("ftp://example.com/x", "unsupported_scheme: ftp"),
        ("file:///etc/passwd", "unsupported_scheme: file"),
        ("http://", "malformed_url: no host in http://"),
        ("http://h:99999/", "malformed_url: Port out of range 0-65535"),
        ("http://2130706433/", "malformed_url: "),
    ],
)
async def test_unsendable_urls_are_final_and_leave_the_breaker_alone(url: str, error: str) -> None:
    """Only http/https with a host is sent; anything else fails for good, without a retry."""
    async with Sender.open(_settings(breaker_failures=1)) as sender:
        request = _get(url)
        outcome = await sender.send(request)
        assert sender.failing_for_s(request) == 0
    assert outcome.kind == "final" and outcome.status is None
    assert outcome.client_error is not None and outcome.client_error.startswith(error)
    assert outcome.reason == "kazoo http client error"


async def test_breaker_does_not_open_on_final_failures(server: tuple[str, dict[str, int]]) -> None:
    """4xx answers say nothing about the endpoint's health: the breaker stays closed."""
    async with Sender.open(_settings(breaker_failures=2)) as sender:
        request = _get(f"{server[0]}/status/404")
        for _ in range(4):
            assert (await sender.send(request)).kind == "final"
        assert sender.failing_for_s(request) == 0
        failing = _get(f"{server[0]}/status/500")
        await sender.send(failing)
        await sender.send(failing)
        assert sender.failing_for_s(failing) > 0


async def test_holds_back_is_an_open_breaker_or_a_busy_endpoint(
    server: tuple[str, dict[str, int]],
) -> None:
    """holds_back(uri) is what circuit_open and busy say of a request to that URI, for a URI
    sent before and for one never sent to the same endpoint (the dispatcher asks it before
    it builds any request)."""
    settings = _settings(endpoint_concurrency=1, endpoint_queue=1, breaker_failures=2)
    async with Sender.open(settings) as sender:
        slow, unseen = f"{server[0]}/slow", f"{server[0]}/status/200?never=sent"
        assert not sender.holds_back(slow) and not sender.holds_back(unseen)
        first = asyncio.create_task(sender.send(_get(slow)))
        second = asyncio.create_task(sender.try_send(_get(slow), start_within_s=5.0))
        await eventually(lambda: sender.busy(_get(slow)))
        assert sender.holds_back(slow) and sender.holds_back(unseen)
        assert sender.circuit_open(_get(unseen)) is None  # busy, not failing
        await first
        await second
        assert not sender.holds_back(slow)
        failing = f"{server[0]}/status/503"
        await sender.send(_get(failing))
        assert not sender.holds_back(failing)  # one failure of the two that open it
        await sender.send(_get(failing))
        assert sender.holds_back(failing) and sender.holds_back(unseen)
        opened = sender.circuit_open(_get(unseen))
        assert opened is not None and opened.client_error == "circuit open: http 503"
