"""Fault 9: a three-node RabbitMQ cluster of the test's own, ``queue_type = quorum``.

Two daemons share the work while 1,000 Kazoo events stream; the node that leads the shared
queue is stopped mid-stream and started again: nothing is lost. The same with a node stopped
while retries wait in delay buckets. And the way from classic to quorum: a conflicting
declaration stops start-up with one line, ``webhooksd queues migrate`` keeps every message.

One cluster for the module (about 15 s to form); each test has a virtual host of its own on
it. It never touches the shared broker, so it runs without ``WEBHOOKSD_FAULTS_DISRUPTIVE``.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aio_pika
import aiohttp
import pytest

from tests.faults.cluster import Cluster, Node, sbin
from tests.faults.conftest import Rig
from tests.faults.rig import (
    PROBE,
    Kazoo,
    Receiver,
    StartReceiver,
    bin_path,
    duplicates,
    make_live,
    metric_total,
    report,
    tally,
)
from tests.waiting import eventually
from webhooksd.bus import DEAD_LETTER, QueueSpec
from webhooksd.bus._delay import PREFIX
from webhooksd.bus.amqp import AmqpBus

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.skipif(sbin() is None, reason="RabbitMQ is not installed"),
]

EVENTS = 1000
#: events per second Kazoo publishes while the leader is stopped
RATE = 100
FAIL_EVERY = 5
#: retries waiting in delay buckets when their node is stopped, at least
MIN_WAITING = 10
#: the first retry's delay in the bucket test: the retries must still be waiting when the
#: test has seen them and stops their bucket's leader
BUCKET_WAIT_MS = 10_000
SETTINGS: dict[str, Any] = {
    "queue_type": "quorum",
    # long enough for the retries to be waiting in their bucket while its leader stops
    "retry_base_delay_ms": 3000,
    "attempt_failure_count": 100_000,
    "breaker_failures": 1000,
}


@pytest.fixture(name="cluster", scope="module")
def _cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    cluster = Cluster(tmp_path_factory.mktemp("cluster"))
    try:
        cluster.form()
        yield cluster
    finally:
        cluster.close()
        assert not cluster.leftovers(), "a node of the test cluster is still running"


@pytest.fixture(name="vhost")
def _vhost(cluster: Cluster, tag: str) -> Iterator[str]:
    """A virtual host of this test's own on the cluster (its queues and dead letters)."""
    first = cluster.nodes[0]
    cluster.ctl(first, "add_vhost", tag)
    cluster.ctl(first, "set_permissions", "-p", tag, "guest", ".*", ".*", ".*")
    yield tag
    # a stopped node may just be coming back: the vhost goes with the cluster if this fails
    for node in cluster.nodes:
        try:
            cluster.ctl(node, "delete_vhost", tag)
            break
        except AssertionError:
            continue


def url(node: Node, vhost: str) -> str:
    return f"amqp://guest:guest@127.0.0.1:{node.amqp_port}/{vhost}?reconnect_interval=0.5"


class ClusterRig(Rig):
    """The fault rig's daemons, on the cluster: each daemon on the node it is given (the
    commands, ``bootstrap`` among them, on the second node, with the rig's queue type)."""

    def __init__(self, rig: Rig, cluster: Cluster, vhost: str, queue_type: str = "quorum") -> None:
        super().__init__(rig.tag, rig.store_url, rig.logs, rig.http)
        self.cluster = cluster
        self.vhost = vhost
        self.queue_type = queue_type

    def env(self, **settings: Any) -> dict[str, str]:
        node = settings.pop("node", self.cluster.nodes[1])
        settings.setdefault("queue_type", self.queue_type)
        return super().env(amqp_url=url(node, self.vhost), **settings)

    async def close(self) -> None:
        for daemon in self.daemons:
            daemon.kill()


@asynccontextmanager
async def cluster_rig(
    tag: str, store_url: str, logs: Path, cluster: Cluster, vhost: str, queue_type: str
) -> AsyncIterator[ClusterRig]:
    async with aiohttp.ClientSession() as http:
        rig = ClusterRig(Rig(tag, store_url, logs, http), cluster, vhost, queue_type)
        try:
            await rig.bootstrap()
            yield rig
        finally:
            await rig.close()


@pytest.fixture(name="crig")
async def _crig(
    tag: str, store_url: str, tmp_path: Path, cluster: Cluster, vhost: str
) -> AsyncIterator[ClusterRig]:
    """Bootstrapped with ``queue_type = quorum`` (its announcement declares the dead-letter
    queue, a quorum one)."""
    async with cluster_rig(tag, store_url, tmp_path, cluster, vhost, "quorum") as rig:
        yield rig


@pytest.fixture(name="classic_rig")
async def _classic_rig(
    tag: str, store_url: str, tmp_path: Path, cluster: Cluster, vhost: str
) -> AsyncIterator[ClusterRig]:
    """Bootstrapped as a classic deployment is."""
    async with cluster_rig(tag, store_url, tmp_path, cluster, vhost, "classic") as rig:
        yield rig


@pytest.fixture(name="ckazoo")
async def _ckazoo(cluster: Cluster, vhost: str) -> AsyncIterator[Kazoo]:
    """Kazoo's publisher, on the third node (never the one the tests stop first)."""
    connection = await aio_pika.connect_robust(url(cluster.nodes[2], vhost))
    async with connection:
        yield Kazoo(await connection.channel())


async def _declare_on(node: Node, crig: ClusterRig) -> None:
    """Declare the durable queues through ``node``: a quorum queue's leader is placed on the
    node its declaration came through, so the leaders start away from the daemons' nodes."""
    async with AmqpBus.open(
        url(node, crig.vhost), queue_type="quorum" if crig.queue_type == "quorum" else "classic"
    ) as bus:
        for name in (crig.shared_queue, crig.retry_queue):
            await bus.declare_queue(QueueSpec(name=name, durable=True, dead_letter=True))


def _fail_a_fifth(_path: str, call: str, before: int) -> int:
    if call.startswith(PROBE) or before or int(call.rsplit("-", 1)[1]) % FAIL_EVERY:
        return 200
    return 503


async def _two_daemons(
    crig: ClusterRig, receiver: Receiver, kazoo: Kazoo, path: str, **settings: Any
) -> Any:
    settings = {**SETTINGS, **settings}
    first = await crig.start(node=crig.cluster.nodes[1], **settings)
    api = await crig.api(first)
    await api.create_hook(path, receiver.url + "/" + path, retries=4)
    await make_live(kazoo, api.account, [receiver])
    second = await crig.start(node=crig.cluster.nodes[2], **settings)
    return first, second, api


async def test_leader_of_the_shared_queue_stopped_mid_stream(
    crig: ClusterRig, cluster: Cluster, receivers: StartReceiver, ckazoo: Kazoo
) -> None:
    """1,000 events, two daemons on two nodes; the shared queue's leader is stopped when a
    third arrived, and started again: every event delivered, each instance counted its own."""
    await _declare_on(cluster.nodes[0], crig)
    receiver = await receivers()
    first, second, api = await _two_daemons(crig, receiver, ckazoo, "leader")
    calls = [f"leader-{n}" for n in range(EVENTS)]
    # at a pace, so that the leader stops mid-stream rather than after it
    publishing = asyncio.create_task(ckazoo.stream(api.account, calls, rate=RATE))
    await eventually(
        lambda: len(receiver.accepted_calls() & set(calls)) >= EVENTS // 3,
        timeout=60,
        what="a third accepted",
    )
    leader = await asyncio.to_thread(
        cluster.leader, crig.shared_queue, cluster.nodes[2], crig.vhost
    )
    await asyncio.to_thread(cluster.stop, leader)
    at_stop = len(receiver.accepted_calls() & set(calls))
    survivor = next(n for n in cluster.nodes if n != leader)

    async def new_leader() -> Node | None:
        found = await asyncio.to_thread(cluster.leader, crig.shared_queue, survivor, crig.vhost)
        return found if found != leader else None

    elected = await eventually(new_leader, timeout=30, what="a new leader elected")
    await publishing
    delivered_while_down = await receiver.wait_accepted(calls, timeout=90)
    await asyncio.to_thread(cluster.start, leader)
    await receiver.wait_accepted(calls, timeout=60)
    await asyncio.sleep(1.0)  # time for late duplicates to arrive and be counted, if any
    result = tally(receiver.hits, calls)
    print(
        f"leader {leader.name} stopped after {at_stop} accepted, {elected.name} elected; all"
        f" delivered while it was down: {delivered_while_down};"
        f" republished by Kazoo: {ckazoo.republished}"
    )
    for line in duplicates(receiver.hits, calls):
        print("duplicate:", line)
    report(result, "cluster_leader_stopped")
    assert first.running and second.running
    handled = []
    for daemon in (first, second):
        async with crig.http.get(daemon.base + "/metrics") as resp:
            text = await resp.text()
        handled.append(metric_total(text, "webhooksd_instance_events_handled_total"))
    print(f"events handled per instance: {handled}")
    assert all(n > 0 for n in handled), handled
    assert sum(handled) >= EVENTS


async def test_node_stopped_while_retries_wait_in_delay_buckets(
    crig: ClusterRig, cluster: Cluster, receivers: StartReceiver, ckazoo: Kazoo
) -> None:
    """A fifth of first attempts fail; while their retries wait in (quorum) delay buckets,
    the node leading the fullest bucket is stopped, then started: every retry arrives."""
    await _declare_on(cluster.nodes[0], crig)
    receiver = await receivers(_fail_a_fifth)
    first, second, api = await _two_daemons(
        crig, receiver, ckazoo, "buckets", retry_base_delay_ms=BUCKET_WAIT_MS
    )
    daemons = (first, second)
    calls = [f"buckets-{n}" for n in range(EVENTS)]
    await ckazoo.stream(api.account, calls)
    failed = {c for c in calls if int(c.rsplit("-", 1)[1]) % FAIL_EVERY == 0}
    buckets: dict[str, int] = {}
    # a retry waits in its bucket for BUCKET_WAIT_MS only, so a poll must be much quicker than
    # that: one rabbitmqctl call a poll (a whole Erlang VM started) took longer than the wait
    # on a loaded machine, and the test failed without ever seeing a retry waiting
    types: dict[str, str] = {}

    async def waiting() -> bool:
        if not any(name.startswith(PREFIX) for name in types):
            # buckets are declared as retries first need them; once one is, the passive
            # declares alone are quick enough to poll with
            types.update(await _types(cluster, crig.vhost))
        depths = await _depths(cluster, crig.vhost, cluster.nodes[0], types)
        buckets.clear()
        buckets.update({k: n for k, (_t, n) in depths.items() if k.startswith(PREFIX) and n})
        return sum(buckets.values()) >= MIN_WAITING

    await eventually(waiting, timeout=60, what=f"{MIN_WAITING} retries waiting in buckets")
    fullest = max(buckets, key=lambda name: buckets[name])
    leader = await asyncio.to_thread(cluster.leader, fullest, cluster.nodes[0], crig.vhost)
    await asyncio.to_thread(cluster.stop, leader)
    retried = len(failed & receiver.accepted_calls())
    print(
        f"stopped {leader.name}, leader of {fullest} ({buckets[fullest]} waiting, {retried} of"
        f" {len(failed)} retries accepted); {buckets}"
    )
    await asyncio.to_thread(cluster.start, leader)
    await receiver.wait_accepted(calls, timeout=120)
    await asyncio.sleep(1.0)  # time for late duplicates to arrive and be counted, if any
    result = tally(receiver.hits, calls)
    for line in duplicates(receiver.hits, calls):
        print("duplicate:", line)
    report(result, "cluster_node_stopped_retries_waiting")
    assert failed <= receiver.accepted_calls()
    assert all(d.running for d in daemons)


async def test_switch_from_classic_to_quorum_keeps_every_message(
    classic_rig: ClusterRig, cluster: Cluster, ckazoo: Kazoo
) -> None:
    """A classic deployment's queues hold events, retries waiting in buckets and a dead
    letter. A quorum daemon refuses to start, in one line naming the queue and the setting;
    ``webhooksd queues migrate`` makes them quorum with every message, and a quorum daemon
    then starts."""
    crig = classic_rig
    node = cluster.nodes[0]
    await _declare_on(node, crig)
    async with AmqpBus.open(url(node, crig.vhost)) as bus:
        await bus.bind(crig.shared_queue, "callevt", "call.CHANNEL_CREATE.*")
        for n in range(7):
            await bus.publish_delayed(crig.retry_queue, b'{"n": %d}' % n, 600_000)
        await bus.publish_delayed(crig.retry_queue, b'{"n": 7}', 30_000)
        await bus.publish("", crig.retry_queue, b'{"due": true}', persistent=True)
        await bus.publish(DEAD_LETTER, "x", b'{"dead": true}', persistent=True)
    for n in range(25):
        await ckazoo.call("acct", f"migrate-{n}", persistent=True)
    before = await _depths(cluster, crig.vhost, node)
    assert before[crig.shared_queue] == ("classic", 25), before

    refused = await _daemon_exit(crig, node)
    lines = [line for line in refused[1].splitlines() if line.strip()]
    print("start-up refused:", lines)
    assert refused[0] == 78, refused
    assert len(lines) == 1 and "'queue_type'" in lines[0] and "queues migrate" in lines[0]

    code, out = await _command(crig.env(node=node, **SETTINGS), "queues", "migrate")
    print(out)
    assert code == 0, out
    after = await _depths(cluster, crig.vhost, node)
    assert after[crig.shared_queue] == ("quorum", 25), after
    assert after[crig.retry_queue] == ("quorum", 1), after
    assert after[DEAD_LETTER][0] == "quorum" and after[DEAD_LETTER][1] >= 1, after
    waiting = {k: v for k, v in after.items() if k.startswith(PREFIX)}
    assert sorted(waiting.values()) == [("quorum", 1), ("quorum", 7)], after
    assert not [k for k in after if k.endswith(".migrating")], after
    # the queues are now what a quorum daemon declares: it starts
    daemon = await crig.start(node=node, **SETTINGS)
    assert daemon.running


async def _depths(
    cluster: Cluster, vhost: str, node: Node, types: dict[str, str] | None = None
) -> dict[str, tuple[str, int]]:
    """Every shared queue of ``vhost`` (or those of ``types``): its type and its messages (a
    passive declare: rabbitmqctl's count of a quorum queue lags by seconds)."""
    if types is None:
        types = await _types(cluster, vhost)
    found: dict[str, tuple[str, int]] = {}
    connection = await aio_pika.connect(url(node, vhost))
    async with connection:
        for name, kind in types.items():
            channel = await connection.channel()
            queue = await channel.declare_queue(name, passive=True)
            found[name] = (kind, queue.declaration_result.message_count or 0)
            await channel.close()
    return found


async def _types(cluster: Cluster, vhost: str) -> dict[str, str]:
    """Every shared queue of ``vhost`` and its type, from rabbitmqctl: a whole Erlang VM
    started per call, seconds of it on a loaded machine."""
    listing = await asyncio.to_thread(
        cluster.ctl, cluster.nodes[0], "list_queues", "-p", vhost, "name", "type",
        "--quiet", "--no-table-headers",
    )  # fmt: skip
    # an instance's own queue (exclusive, server-named amq_…) cannot even be declared
    # passively by another connection
    rows = [line.split("\t") for line in listing.splitlines()]
    return {r[0]: r[1].strip() for r in rows if len(r) == 2 and not r[0].startswith("amq")}


async def _daemon_exit(crig: ClusterRig, node: Node) -> tuple[int, str]:
    """Run a quorum daemon that must stop by itself; its exit status and stderr."""
    env = crig.env(node=node, **{**SETTINGS, "log_level": "error", "node_name": uuid.uuid4().hex})
    return await _command(env, "run", stdout=False)


async def _command(env: dict[str, str], *args: str, stdout: bool = True) -> tuple[int, str]:
    """``webhooksd <args>``: its exit status and output (stderr only, unless ``stdout``)."""
    proc = await asyncio.create_subprocess_exec(
        bin_path("webhooksd"),
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE if stdout else asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.STDOUT if stdout else asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    return proc.returncode or 0, (out or err or b"").decode(errors="replace")
