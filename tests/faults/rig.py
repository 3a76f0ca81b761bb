"""The fault-test rig: daemons as real subprocesses, a stoppable receiver, a Kazoo publisher,
and the tally every fault test prints (``lost=<n> duplicated=<n> total=<N>``).

A *delivery* is a request the receiver accepted (answered 2xx); an event is *lost* when none
of its requests was accepted, and *duplicated* counts accepted deliveries beyond the first of
an event. Every request of one event — failed, accepted or repeated — must carry the same
``webhook-id``, which is what lets a receiver drop the duplicates.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import parse_qsl

import aio_pika
import aiohttp
import orjson
from aio_pika.exceptions import PublishError
from aiohttp import web

from tests.integration.kazoo_events import channel_create
from tests.waiting import eventually

#: the master account's API key every fault test bootstraps with
MASTER_KEY = "cd" * 32
#: the decision that makes the receiver accept a request and never answer it
HANG = -1
#: events whose ``call_id`` starts with this only check that a hook is live; never tallied
PROBE = "probe-"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def bin_path(name: str) -> str:
    """A console script of the virtualenv running the tests."""
    return str(Path(sys.executable).parent / name)


# -- the receiver ---------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Hit:
    """One request as the receiver saw it, and how it was answered (None: never)."""

    path: str
    webhook_id: str
    call_id: str
    status: int | None
    at: float

    @property
    def accepted(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def call_id_of(body: bytes, content_type: str) -> str:
    """The ``call_id`` of a JSON or form-encoded webhook body ('' when there is none)."""
    if content_type.startswith("application/json"):
        try:
            payload = json.loads(body)
        except ValueError:
            return ""
        return str(payload.get("call_id", "")) if isinstance(payload, dict) else ""
    return dict(parse_qsl(body.decode("utf-8", "replace"))).get("call_id", "")


Decide = Callable[[str, str, int], int]


class Receiver:
    """A real aiohttp server on 127.0.0.1 that can be stopped and started on the same port.

    ``decide(path, call_id, n)`` (``n``: how many requests of this call came before) picks
    each answer: an HTTP status, or :data:`HANG` to accept the request and never answer.
    With ``sleep_s`` every answer but a probe's comes that many seconds late (a slow
    receiver); stopping the receiver cuts the sleep short.
    """

    def __init__(self, decide: Decide | None = None, sleep_s: float = 0.0) -> None:
        self.decide: Decide = decide or (lambda _path, _call, _n: 200)
        self.sleep_s = sleep_s
        #: requests being answered now, and the most there were at once
        self.open = 0
        self.peak_open = 0
        self.hits: list[Hit] = []
        self.port = free_port()
        self._seen: dict[str, int] = defaultdict(int)
        self._runner: web.AppRunner | None = None
        self._release = asyncio.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self._release = asyncio.Event()
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", self.port).start()
        self._runner = runner

    async def stop(self) -> None:
        """Close the port and every open connection (hanging requests are let go first)."""
        self._release.set()
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        call = call_id_of(body, request.headers.get("Content-Type", ""))
        status = self.decide(request.path, call, self._seen[call])
        self._seen[call] += 1
        hit = Hit(
            request.path,
            request.headers.get("webhook-id", ""),
            call,
            None if status == HANG else status,
            time.monotonic(),
        )
        self.hits.append(hit)
        if status == HANG:
            await self._release.wait()
            raise web.HTTPServiceUnavailable()  # only reached when the test is over
        if self.sleep_s and not call.startswith(PROBE):
            self.open += 1
            self.peak_open = max(self.peak_open, self.open)
            try:
                # the slowness is the scenario: a receiver that takes this long to answer
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._release.wait(), self.sleep_s)
            finally:
                self.open -= 1
        return web.Response(status=status, text="ok")

    def accepted_calls(self, path: str | None = None) -> set[str]:
        return {h.call_id for h in self.hits if h.accepted and path in (None, h.path)}

    async def wait_accepted(
        self, calls: Collection[str], timeout: float, path: str | None = None
    ) -> bool:
        """Wait until every one of ``calls`` was accepted; False when ``timeout`` passed first
        (the caller's tally then says which are missing, which an AssertionError here would
        not)."""
        wanted = set(calls)
        try:
            await eventually(lambda: wanted <= self.accepted_calls(path), timeout=timeout)
        except AssertionError:
            return False
        return True


# -- the tally ------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class Tally:
    lost: int
    duplicated: int
    total: int
    requests: int
    missing: list[str]
    #: events whose requests carried more than one webhook-id (must be empty)
    mixed_ids: dict[str, set[str]]

    def line(self, scenario: str) -> str:
        return (
            f"lost={self.lost} duplicated={self.duplicated} total={self.total}"
            f" requests={self.requests} scenario={scenario}"
        )


def tally(hits: Collection[Hit], expected: Collection[str], path: str | None = None) -> Tally:
    """Count ``expected`` events against what the receiver saw (on ``path``, if given)."""
    wanted = set(expected)
    mine = [h for h in hits if h.call_id in wanted and path in (None, h.path)]
    accepted: dict[str, int] = defaultdict(int)
    ids: dict[str, set[str]] = defaultdict(set)
    for hit in mine:
        ids[hit.call_id].add(hit.webhook_id)
        if hit.accepted:
            accepted[hit.call_id] += 1
    missing = sorted(wanted - set(accepted))
    return Tally(
        lost=len(missing),
        duplicated=sum(n - 1 for n in accepted.values()),
        total=len(wanted),
        requests=len(mine),
        missing=missing,
        mixed_ids={c: v for c, v in ids.items() if len(v) != 1 or "" in v},
    )


def repeats(hits: Collection[Hit], calls: Collection[str]) -> dict[str, list[Hit]]:
    """Each of ``calls`` accepted more than once, with its accepted requests in order."""
    wanted = set(calls)
    seen: dict[str, list[Hit]] = defaultdict(list)
    for hit in hits:
        if hit.accepted and hit.call_id in wanted:
            seen[hit.call_id].append(hit)
    return {call: found for call, found in seen.items() if len(found) > 1}


def duplicates(hits: Collection[Hit], calls: Collection[str]) -> list[str]:
    """One line per event accepted more than once, with its first webhook-id."""
    return [
        f"{call} x{len(found)} webhook-id={found[0].webhook_id}"
        for call, found in repeats(hits, calls).items()
    ]


def report(result: Tally, scenario: str) -> None:
    """Print the count line and assert nothing was lost and webhook-ids are stable."""
    print(result.line(scenario))
    assert result.lost == 0, f"lost {result.lost}: {result.missing[:20]}"
    assert not result.mixed_ids, f"events with unstable webhook-id: {result.mixed_ids}"


# -- the daemon process ---------------------------------------------------------------------
class DaemonProc:
    """One ``webhooksd run`` subprocess; its output goes to a log file shown on failure."""

    def __init__(self, env: Mapping[str, str], log_path: Path) -> None:
        self.env = dict(env)
        self.port = int(self.env["WEBHOOKSD_API_LISTEN"].rsplit(":", 1)[1])
        self.log_path = log_path
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: TextIO | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        assert self._proc is None, "already running"
        self._log = self.log_path.open("a")
        self._proc = subprocess.Popen(
            [bin_path("webhooksd"), "run"], env=self.env, stdout=self._log, stderr=subprocess.STDOUT
        )

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    async def wait_ready(self, timeout: float = 30.0) -> None:
        """Wait for ``/readyz`` to answer 200 (the process must not exit meanwhile)."""
        async with aiohttp.ClientSession() as http:

            async def ready() -> bool:
                if not self.running:
                    raise AssertionError(f"daemon exited:\n{self.tail()}")
                with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                    async with http.get(
                        self.base + "/readyz", timeout=aiohttp.ClientTimeout(total=1)
                    ) as resp:
                        return resp.status == 200
                return False

            try:
                await eventually(ready, timeout=timeout, what="/readyz 200")
            except AssertionError as error:
                if not self.running:
                    raise
                raise AssertionError(f"{error}:\n{self.tail()}") from None

    def _end(self, sig: signal.Signals, grace: float) -> int | None:
        proc, self._proc = self._proc, None
        if proc is None:
            return None
        if proc.poll() is None:
            proc.send_signal(sig)
        try:
            code = proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = proc.wait(timeout=10)
        if self._log is not None:
            self._log.close()
            self._log = None
        return code

    def kill(self) -> None:
        """SIGKILL: no drain, no goodbye; unacked messages go back to the queue."""
        self._end(signal.SIGKILL, 10)

    def terminate(self) -> int | None:
        return self._end(signal.SIGTERM, 30)

    def tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


# -- the API --------------------------------------------------------------------------------
class Api:
    """A logged-in Crossbar client on one daemon."""

    def __init__(self, http: aiohttp.ClientSession, base: str) -> None:
        self.http = http
        self.base = base
        self.token = ""
        self.account = ""

    async def call(self, method: str, path: str, data: Any = None) -> Any:
        body = orjson.dumps({"data": data}) if data is not None else None
        headers = {"X-Auth-Token": self.token, "Content-Type": "application/json"}
        async with self.http.request(
            method, self.base + "/v2" + path, data=body, headers=headers
        ) as resp:
            payload = await resp.json(content_type=None)
            assert resp.status < 400, (method, path, resp.status, payload)
            return payload

    async def login(self, api_key: str = MASTER_KEY) -> None:
        reply = await self.call("PUT", "/api_auth", {"api_key": api_key})
        self.token, self.account = reply["auth_token"], reply["data"]["account_id"]

    async def create_hook(self, name: str, uri: str, **extra: Any) -> str:
        doc = {"name": name, "hook": "channel_create", "uri": uri, "format": "json", **extra}
        reply = await self.call("PUT", f"/accounts/{self.account}/webhooks", doc)
        return str(reply["data"]["id"])

    async def hooks(self) -> list[dict[str, Any]]:
        reply = await self.call("GET", f"/accounts/{self.account}/webhooks")
        return list(reply["data"])

    async def attempts(self, hook_id: str) -> list[dict[str, Any]]:
        path = f"/accounts/{self.account}/webhooks/{hook_id}/attempts?paginate=false&ascending=true"
        return list((await self.call("GET", path))["data"])

    async def get_text(self, path: str) -> tuple[int, str]:
        async with self.http.get(self.base + path) as resp:
            return resp.status, await resp.text()


def metric_total(text: str, name: str) -> float:
    """The sum of every sample of counter ``name`` in a Prometheus text page."""
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith((name + "{", name + " "))
    )


# -- Kazoo's side of the broker ----------------------------------------------------------------
class Kazoo:
    """Publishes as Kazoo does, straight onto its exchanges, over a robust connection with
    publisher confirms. A publish that fails (the broker is restarting) is repeated with the
    same body until confirmed, so a repeat can only ever be a duplicate of the same event."""

    def __init__(self, channel: aio_pika.abc.AbstractChannel) -> None:
        self.channel = channel
        self.republished = 0
        #: mandatory publishes the broker handed back: routed to no queue
        self.returned = 0
        #: channel_create events published by :meth:`call` (probes included)
        self.calls = 0

    async def publish(
        self,
        exchange: str,
        routing_key: str,
        body: dict[str, Any] | bytes,
        *,
        persistent: bool = False,
        mandatory: bool = False,
        timeout: float = 60.0,
        **props: Any,
    ) -> None:
        raw = body if isinstance(body, bytes) else orjson.dumps(body)
        if not isinstance(body, bytes):
            props.setdefault("content_type", "application/json")
        mode = aio_pika.DeliveryMode.PERSISTENT if persistent else None
        deadline = time.monotonic() + timeout
        # a retry, not a wait on a condition: the last refusal is what a test must see
        while True:
            try:
                ex = await self.channel.get_exchange(exchange, ensure=False)
                await ex.publish(
                    aio_pika.Message(raw, delivery_mode=mode, **props),
                    routing_key=routing_key,
                    mandatory=mandatory,
                )
                return
            except Exception as exc:
                if time.monotonic() >= deadline:
                    raise
                self.republished += 1
                self.returned += isinstance(exc, PublishError)
                await asyncio.sleep(0.2)

    async def call(
        self, account: str, call_id: str, *, persistent: bool = False, mandatory: bool = False
    ) -> None:
        await self.publish(
            "callevt", *channel_create(account, call_id), persistent=persistent, mandatory=mandatory
        )
        self.calls += 1

    async def stream(
        self,
        account: str,
        calls: Collection[str],
        *,
        rate: float = 0.0,
        persistent: bool = False,
        mandatory: bool = False,
    ) -> None:
        """Publish a channel_create per call id, at most ``rate`` per second (0: at once).
        ``mandatory``: one that no queue took is published again (the channel must have been
        opened with ``on_return_raises``)."""
        for call in calls:
            await self.call(account, call, persistent=persistent, mandatory=mandatory)
            if rate:
                await asyncio.sleep(1 / rate)


async def make_live(
    kazoo: Kazoo, account: str, receivers: Collection[Receiver], timeout: float = 15.0
) -> None:
    """Publish probe events until every receiver got one: the hooks are in the table."""

    def probes(receiver: Receiver) -> int:
        return sum(1 for h in receiver.hits if h.call_id.startswith(PROBE))

    before = {id(r): probes(r) for r in receivers}

    async def probe_delivered() -> bool:
        # a probe published before the table held the hooks is never delivered: send another
        # every half second until one reaches every receiver
        await kazoo.call(account, f"{PROBE}{uuid.uuid4().hex[:12]}")
        try:
            await eventually(lambda: all(probes(r) > before[id(r)] for r in receivers), timeout=0.5)
        except AssertionError:
            return False
        return True

    await eventually(probe_delivered, timeout=timeout, what="hooks live (a probe delivered)")


def delay_buckets(queue: str, max_delay_ms: int) -> list[str]:
    """Every delay-bucket queue ``publish_delayed`` may have made for ``queue`` (a bucket is
    ``ceil(1.125 ** k)`` ms; deleting a queue that does not exist is harmless)."""
    names: list[str] = []
    k = 0
    while (ms := math.ceil(1.125**k)) <= 2 * max_delay_ms:
        name = f"webhooksd.delay.{queue}.{ms}"
        if name not in names:
            names.append(name)
        k += 1
    return names


@dataclass
class Cleanup:
    """Durable queues a test made, deleted at teardown."""

    amqp_url: str
    queues: list[str] = field(default_factory=list)

    async def run(self) -> None:
        connection = await aio_pika.connect(self.amqp_url)
        async with connection:
            channel = await connection.channel()
            for name in self.queues:
                try:
                    await channel.queue_delete(name)
                except aio_pika.exceptions.AMQPError:
                    channel = await connection.channel()  # an error closes the channel


def env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no")


StartReceiver = Callable[..., Awaitable[Receiver]]


async def run_command(*argv: str, timeout: float = 60.0) -> tuple[int, str]:
    """Run a command; return its exit code and combined output."""
    proc = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        return -1, f"{argv[0]} timed out after {timeout}s"
    return proc.returncode or 0, out.decode(errors="replace")
