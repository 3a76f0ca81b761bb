"""``webhooksd run --workers 2`` as systemd runs it: real processes, the real broker, a real
receiver, and NOTIFY_SOCKET a datagram socket of the test's. One READY=1 for the service; a
worker killed with SIGKILL comes back and events still flow; SIGTERM drains every worker."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aio_pika
import aiohttp
import orjson
import pytest
from aiohttp import web

from tests.conftest import AMQP_URL
from tests.loopback import serving
from tests.waiting import eventually

pytestmark = [pytest.mark.integration, pytest.mark.slow]

KEY = "cd" * 32


def two_free_ports() -> int:
    """A port p with p + 1 free too (worker 1 listens on p + 1)."""
    while True:
        with socket.socket() as first, socket.socket() as second:
            first.bind(("127.0.0.1", 0))
            port = int(first.getsockname()[1])
            if port >= 65535:
                continue
            try:
                second.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
            return port


@dataclass
class HeldReceiver:
    """A loopback receiver that answers only once ``release`` is set (set by default)."""

    url: str = ""
    release: asyncio.Event = field(default_factory=asyncio.Event)
    started: list[bytes] = field(default_factory=list)
    answered: list[bytes] = field(default_factory=list)


@pytest.fixture(name="held")
async def _held() -> AsyncIterator[HeldReceiver]:
    state = HeldReceiver()
    state.release.set()

    async def handle(request: web.Request) -> web.Response:
        body = await request.read()
        state.started.append(body)
        await state.release.wait()
        state.answered.append(body)
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    async with serving(app) as url:
        state.url = f"{url}/hook"
        try:
            yield state
        finally:
            state.release.set()


class Notify:
    """The test's NOTIFY_SOCKET: every datagram the service sends."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.setblocking(False)
        self.got: list[str] = []

    def poll(self) -> list[str]:
        with contextlib.suppress(BlockingIOError):
            while True:
                self.got.append(self.sock.recv(4096).decode())
        return self.got

    def count(self, state: str) -> int:
        return sum(1 for message in self.poll() if state in message.split("\n"))


@dataclass
class Service:
    proc: subprocess.Popen[bytes]
    port: int
    node: str
    log_path: Path
    notify: Notify
    shared_queue: str

    def api(self, worker: int) -> str:
        return f"http://127.0.0.1:{self.port + worker}"

    def workers(self) -> dict[int, int]:
        """Worker index → pid, from the parent's children."""
        pid = self.proc.pid
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        found: dict[int, int] = {}
        for child in children:
            with contextlib.suppress(OSError):
                env = Path(f"/proc/{child}/environ").read_bytes().split(b"\0")
                for entry in env:
                    if entry.startswith(b"WEBHOOKSD_WORKER_INDEX="):
                        found[int(entry.split(b"=", 1)[1])] = int(child)
        return found

    def log_lines(self) -> list[dict[str, Any]]:
        """Every JSON object logged. Two workers share the log, so one line may hold two
        objects (``{…}{…}``: one's newline written after the other's line)."""
        lines = []
        decoder = json.JSONDecoder()
        for line in self.log_path.read_text(errors="replace").splitlines():
            at = line.find("{")
            while at >= 0:
                try:
                    parsed, end = decoder.raw_decode(line, at)
                except ValueError:
                    break
                if isinstance(parsed, dict):
                    lines.append(parsed)
                at = line.find("{", end)
        return lines


@pytest.fixture(name="service")
def _service(tmp_path: Path) -> Iterator[Service]:
    tag = uuid.uuid4().hex[:10]
    port = two_free_ports()
    node = f"test-workers-{tag}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WEBHOOKSD_", "WATCHDOG_"))}
    env.update(
        WEBHOOKSD_AMQP_URL=AMQP_URL,
        WEBHOOKSD_STORE_URL=f"sqlite:///{tmp_path / 'store.sqlite3'}",
        WEBHOOKSD_API_LISTEN=f"127.0.0.1:{port}",
        WEBHOOKSD_ALLOW_PRIVATE_TARGETS="true",
        WEBHOOKSD_SHARED_QUEUE=f"webhooks_shared_listener.{tag}",
        WEBHOOKSD_RETRY_QUEUE=f"webhooks_retry.{tag}",
        WEBHOOKSD_NODE_NAME=node,
        WEBHOOKSD_DRAIN_TIMEOUT_S="30",
        WEBHOOKSD_LOG_FORMAT="json",
        WEBHOOKSD_LOG_LEVEL="info",
    )
    webhooksd = str(Path(sys.executable).parent / "webhooksd")
    subprocess.run([webhooksd, "bootstrap", "--api-key", KEY], env=env, check=True, stdout=-3)
    notify = Notify(tmp_path / "notify.sock")
    env["NOTIFY_SOCKET"] = notify.path
    log_path = tmp_path / "service.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [webhooksd, "run", "--workers", "2"], env=env, stdout=log, stderr=subprocess.STDOUT
        )
    service = Service(proc, port, node, log_path, notify, env["WEBHOOKSD_SHARED_QUEUE"])
    try:
        yield service
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                for pid in service.workers().values():
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                proc.kill()
                proc.wait(10)
        notify.sock.close()
        asyncio.run(_delete(env["WEBHOOKSD_SHARED_QUEUE"], env["WEBHOOKSD_RETRY_QUEUE"]))


async def _delete(*queues: str) -> None:
    connection = await aio_pika.connect(AMQP_URL)
    async with connection:
        for name in queues:
            channel = await connection.channel()
            with contextlib.suppress(aio_pika.exceptions.AMQPError):
                await channel.queue_delete(name, if_unused=False, if_empty=False)


async def _metric(http: aiohttp.ClientSession, base: str, name: str) -> str | None:
    """The lines of one metric in a worker's /metrics (None while it does not answer)."""
    try:
        async with http.get(base + "/metrics", timeout=aiohttp.ClientTimeout(total=2)) as resp:
            if resp.status != 200:
                return None
            text = await resp.text()
    except (aiohttp.ClientError, TimeoutError):
        return None
    return "\n".join(line for line in text.splitlines() if line.startswith(name))


async def _hooks_loaded(http: aiohttp.ClientSession, base: str) -> bool:
    lines = await _metric(http, base, "webhooksd_hooks_loaded ")
    return lines is not None and lines.endswith(" 1.0")


def _event(account_id: str) -> tuple[str, bytes]:
    call_id = uuid.uuid4().hex
    body = {
        "Event-Category": "call_event",
        "Event-Name": "CHANNEL_CREATE",
        "App-Name": "freeswitch",
        "App-Version": "1.0",
        "Msg-ID": uuid.uuid4().hex,
        "Node": "freeswitch@test",
        "Timestamp": 63724349409,
        "Call-ID": call_id,
        "Call-Direction": "inbound",
        "Caller-ID-Number": "+15556783945",
        "Custom-Channel-Vars": {"Account-ID": account_id},
    }
    return f"call.CHANNEL_CREATE.{call_id}", orjson.dumps(body)


async def _publish(account_id: str, count: int) -> set[str]:
    """``count`` CHANNEL_CREATE events of the account; their call ids."""
    calls = set()
    connection = await aio_pika.connect(AMQP_URL)
    async with connection:
        channel = await connection.channel()
        exchange = await channel.get_exchange("callevt", ensure=False)
        for _ in range(count):
            key, body = _event(account_id)
            calls.add(key.rsplit(".", 1)[1])
            await exchange.publish(aio_pika.Message(body), routing_key=key)
    return calls


def _gone(pid: int) -> bool:
    """The process has exited (reaped, or a zombie waiting for its parent)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def _calls(bodies: list[bytes]) -> set[str]:
    return {str(orjson.loads(body)["call_id"]) for body in bodies}


async def _ready(service: Service, http: aiohttp.ClientSession, held: HeldReceiver) -> str:
    """Wait for the service's READY=1, add a channel_create hook to the receiver and wait
    until both workers have it; the master account's id."""

    def ready() -> bool:
        if service.proc.poll() is not None:
            raise AssertionError(service.log_path.read_text()[-3000:])
        return service.notify.count("READY=1") >= 1

    await eventually(ready, timeout=90, what="READY=1")
    headers = {"Content-Type": "application/json"}
    login = orjson.dumps({"data": {"api_key": KEY}})
    async with http.put(service.api(0) + "/v2/api_auth", data=login, headers=headers) as resp:
        auth = await resp.json(content_type=None)
    token, account = auth["auth_token"], auth["data"]["account_id"]
    hook = {"name": "w", "hook": "channel_create", "http_verb": "post", "uri": held.url}
    async with http.put(
        f"{service.api(0)}/v2/accounts/{account}/webhooks",
        data=orjson.dumps({"data": {**hook, "format": "json"}}),
        headers={**headers, "X-Auth-Token": token},
    ) as resp:
        assert resp.status == 201, await resp.text()
    for worker in (0, 1):
        await eventually(
            lambda w=worker: _hooks_loaded(http, service.api(w)),  # type: ignore[misc]
            timeout=30,
            what=f"worker {worker} has the hook",
        )
    return str(account)


async def test_one_ready_a_killed_worker_comes_back_and_events_flow(
    service: Service, held: HeldReceiver
) -> None:
    async with aiohttp.ClientSession() as http:
        account = await _ready(service, http, held)
        workers = service.workers()
        assert sorted(workers) == [0, 1]
        # each worker is its own instance in the metrics
        for worker in (0, 1):
            lines = await _metric(http, service.api(worker), "webhooksd_instance_events_handled")
            assert lines is not None and f'node="{service.node}-w{worker}"' in lines, lines

        first = await _publish(account, 20)
        await eventually(lambda: _calls(held.answered) >= first, timeout=30, what="20 delivered")

        os.kill(workers[1], signal.SIGKILL)
        await eventually(
            lambda: service.workers().get(1) not in (None, workers[1]), timeout=30, what="restart"
        )
        assert service.workers()[0] == workers[0], "the other worker was left alone"
        await eventually(
            lambda: _hooks_loaded(http, service.api(1)), timeout=60, what="worker 1 back"
        )
        second = await _publish(account, 20)
        await eventually(
            lambda: _calls(held.answered) >= first | second, timeout=30, what="20 more delivered"
        )
    # the service said READY=1 once: the restarted worker's READY went to the parent only
    assert service.notify.count("READY=1") == 1, service.notify.got
    assert service.proc.poll() is None
    restarts = [
        line for line in service.log_lines() if line.get("event") == "worker exited; restarting"
    ]
    assert [line["worker"] for line in restarts] == [1], restarts


async def _drain_on_sigterm(service: Service, held: HeldReceiver) -> set[str]:
    """Six deliveries held by the receiver, SIGTERM to the parent, both workers stopping
    while they wait; released, all six are answered and the service exits 0 after them."""
    async with aiohttp.ClientSession() as http:
        account = await _ready(service, http, held)
    workers = service.workers()
    held.release.clear()
    calls = await _publish(account, 6)
    await eventually(lambda: len(held.started) >= 6, timeout=30, what="6 deliveries in flight")

    service.proc.send_signal(signal.SIGTERM)

    def both_stopping() -> bool:
        stopping = {
            line.get("worker") for line in service.log_lines() if line.get("event") == "stopping"
        }
        return stopping >= {0, 1}

    # each worker logs that it is stopping, saying which it is; the deliveries still wait
    await eventually(both_stopping, timeout=30, what="both workers stopping")
    assert service.proc.poll() is None and not held.answered
    held.release.set()
    code = await asyncio.to_thread(service.proc.wait, 60)
    assert code == 0, service.log_path.read_text()[-3000:]
    assert _calls(held.answered) == calls
    assert all(_gone(pid) for pid in workers.values())
    assert service.notify.count("STOPPING=1") == 1
    return calls


async def test_sigterm_drains_every_worker_then_exits(service: Service, held: HeldReceiver) -> None:
    await _drain_on_sigterm(service, held)


async def test_sigterm_leaves_no_drained_event_in_the_queue(
    service: Service, held: HeldReceiver
) -> None:
    """The drained events' acks reach the broker before each worker's bus closes."""
    calls = await _drain_on_sigterm(service, held)
    connection = await aio_pika.connect(AMQP_URL)
    async with connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(service.shared_queue, passive=True)
        assert queue.declaration_result.consumer_count == 0
        # the queue is bound to the broker's shared callevt exchange: other tests' events may
        # be in it too, so only this test's call ids count
        left = []
        while (message := await queue.get(no_ack=True, fail=False)) is not None:
            left.append((message.routing_key or "").rsplit(".", 1)[-1])
    assert not set(left) & calls, f"drained events left in the queue: {left}"
    # each worker's consumer channel closed cleanly, not cut off half-way
    cut = [line for line in service.log_lines() if "because RPC call" in str(line.get("event"))]
    assert not cut, cut


async def test_workers_stop_when_the_parent_is_killed(service: Service, held: HeldReceiver) -> None:
    """A parent killed outright cannot pass SIGTERM on: its workers notice and stop."""
    async with aiohttp.ClientSession() as http:
        await _ready(service, http, held)
    workers = service.workers()
    service.proc.kill()
    service.proc.wait(10)

    await eventually(
        lambda: all(_gone(pid) for pid in workers.values()), timeout=40, what="workers stopped"
    )
