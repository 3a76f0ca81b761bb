"""Three instances share the work: 3,000 Kazoo events, each delivered exactly once, and each
instance's ``webhooksd_instance_events_handled_total`` says its share (the three sum to the
events published). Then the crash: one of three SIGKILLed mid-stream, the other two take its
events over, nothing is lost, and the only duplicates are events it had in flight (at most
its prefetch), each sent again under its first ``webhook-id``.

The daemons share one PostgreSQL database of the test's own and one RabbitMQ node of the
module's own (own name, ports and data folder, about 4 s to boot; see ``cluster.py``): every
Kazoo event published on the shared broker's exchanges, by any test on the machine, would
reach this test's shared queue too and be counted by the instances, so the shares could not
sum to exactly the events published. It never touches the shared broker, so it always runs.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aio_pika
import aiohttp
import pytest

from tests.faults.cluster import Cluster, Node, sbin
from tests.faults.conftest import Rig
from tests.faults.rig import (
    DaemonProc,
    Kazoo,
    StartReceiver,
    duplicates,
    make_live,
    metric_total,
    repeats,
    report,
    tally,
)
from tests.waiting import eventually

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.skipif(sbin() is None, reason="RabbitMQ is not installed"),
]

EVENTS = 3000
INSTANCES = 3
#: small, so that the bound on duplicates after the kill (its unacked events) is tight
PREFETCH = 25
SETTINGS: dict[str, Any] = {"prefetch": PREFETCH}
HANDLED = "webhooksd_instance_events_handled_total"


@pytest.fixture(name="broker", scope="module")
def _broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    """One RabbitMQ node of this module's own (a cluster of one)."""
    cluster = Cluster(tmp_path_factory.mktemp("broker"), size=1)
    try:
        cluster.form()
        yield cluster.nodes[0]
    finally:
        cluster.close()
        assert not cluster.leftovers(), "the test's RabbitMQ node is still running"


class NodeRig(Rig):
    """The fault rig's daemons on the module's own broker (it goes with its queues)."""

    def __init__(self, rig: Rig, node: Node) -> None:
        super().__init__(rig.tag, rig.store_url, rig.logs, rig.http)
        self.node = node

    def env(self, **settings: Any) -> dict[str, str]:
        return super().env(amqp_url=self.node.url, **{**SETTINGS, **settings})

    async def start_many(self, count: int) -> list[DaemonProc]:
        """Start ``count`` daemons at once (distinct node names and API ports), wait for all."""
        started = []
        for _ in range(count):
            daemon = DaemonProc(self.env(), self.logs / f"daemon-{len(self.daemons)}.log")
            self.daemons.append(daemon)
            daemon.start()
            started.append(daemon)
        await asyncio.gather(*(d.wait_ready() for d in started))
        return started

    async def handled(self, daemon: DaemonProc) -> float:
        async with self.http.get(daemon.base + "/metrics") as resp:
            assert resp.status == 200
            return metric_total(await resp.text(), HANDLED)

    async def settled(self, daemons: list[DaemonProc]) -> list[float]:
        """Each daemon's count once the shared queue is empty and the counts stay put from one
        look to the next: what they handled before the test's own events (the probes, the
        announcement of the hook's creation, which an ``object`` hook would hear of)."""
        last: list[float] = []

        async def still() -> list[float] | None:
            nonlocal last
            counts = [await self.handled(d) for d in daemons]
            same, last = counts == last, counts
            return counts if same and await self.ready_messages() == 0 else None

        return await eventually(still, timeout=30, what="the shared queue settled")

    async def ready_messages(self) -> int:
        """Messages waiting in the shared queue (unacked ones are not counted)."""
        connection = await aio_pika.connect(self.node.url)
        async with connection:
            channel = await connection.channel()
            queue = await channel.declare_queue(self.shared_queue, passive=True)
            return queue.declaration_result.message_count or 0

    async def close(self) -> None:
        for daemon in self.daemons:
            daemon.kill()


@pytest.fixture(name="nrig")
async def _nrig(tag: str, store_url: str, tmp_path: Path, broker: Node) -> AsyncIterator[NodeRig]:
    async with aiohttp.ClientSession() as http:
        rig = NodeRig(Rig(tag, store_url, tmp_path, http), broker)
        try:
            await rig.bootstrap()
            yield rig
        finally:
            await rig.close()


@pytest.fixture(name="nkazoo")
async def _nkazoo(broker: Node) -> AsyncIterator[Kazoo]:
    connection = await aio_pika.connect_robust(broker.url)
    async with connection:
        yield Kazoo(await connection.channel())


async def _three(nrig: NodeRig, receivers: StartReceiver, kazoo: Kazoo, path: str) -> Any:
    """One instance, a hook on a receiver, live; then two more (they load the hook at start)."""
    receiver = await receivers()
    first = await nrig.start()
    api = await nrig.api(first)
    await api.create_hook(path, receiver.url + "/" + path)
    await make_live(kazoo, api.account, [receiver])
    others = await nrig.start_many(INSTANCES - 1)
    return receiver, [first, *others], api


async def test_three_instances_share_the_work_exactly_once(
    nrig: NodeRig, receivers: StartReceiver, nkazoo: Kazoo
) -> None:
    """3,000 events, three instances: each delivered once (one webhook-id per event, none
    shared by two), each instance handled some, and their counts sum to what was published."""
    receiver, daemons, api = await _three(nrig, receivers, nkazoo, "share")
    base = await nrig.settled(daemons)
    calls = [f"share-{n}" for n in range(EVENTS)]
    await nkazoo.stream(api.account, calls)
    delivered = await receiver.wait_accepted(calls, timeout=60)

    async def handled() -> list[int] | None:
        counts = [int(await nrig.handled(d)) - int(b) for d, b in zip(daemons, base, strict=True)]
        return counts if sum(counts) >= EVENTS else None

    shares = await eventually(handled, timeout=30, what="the instances' counts summing up")
    result = tally(receiver.hits, calls)
    for line in duplicates(receiver.hits, calls):
        print("duplicate:", line)
    print(f"events handled per instance: {shares} (before: {base}); all: {delivered}")
    report(result, "three_instances")
    assert result.duplicated == 0
    ids = {h.webhook_id for h in receiver.hits if h.call_id in set(calls)}
    assert len(ids) == EVENTS, f"{EVENTS} events under {len(ids)} webhook-ids"
    assert all(n > 0 for n in shares), shares
    assert sum(shares) == EVENTS, shares
    assert await nrig.ready_messages() == 0
    assert all(d.running for d in daemons)


async def test_one_of_three_killed_mid_stream(
    nrig: NodeRig, receivers: StartReceiver, nkazoo: Kazoo
) -> None:
    """3,000 events, three instances; one is SIGKILLed when a third were accepted: the other
    two deliver the rest and its unacked events; every duplicate is one event sent twice
    under one webhook-id, the second time after the kill, and there are at most its prefetch
    of them (what RabbitMQ lets one consumer hold unacked)."""
    receiver, daemons, api = await _three(nrig, receivers, nkazoo, "crash")
    victim, survivors = daemons[1], [daemons[0], daemons[2]]
    base = await nrig.settled(daemons)
    calls = [f"crash-{n}" for n in range(EVENTS)]
    wanted = set(calls)
    publishing = asyncio.create_task(nkazoo.stream(api.account, calls))
    await eventually(
        lambda: len(receiver.accepted_calls() & wanted) >= EVENTS // 3,
        timeout=60,
        what="a third of the events accepted",
    )
    at_kill = [int(await nrig.handled(d) - b) for d, b in zip(daemons, base, strict=True)]
    killed_from = time.monotonic()
    victim.kill()
    accepted_at_kill = len(receiver.accepted_calls() & wanted)
    await publishing
    delivered = await receiver.wait_accepted(calls, timeout=60)
    after = [int(await nrig.handled(d) - base[daemons.index(d)]) for d in survivors]
    # a graceful stop finishes what the survivors hold; then nothing is left to send again,
    # so the receiver's count of duplicates is final (stopped in threads: this loop is the
    # receiver, which must keep answering while they drain)
    codes = await asyncio.gather(*(asyncio.to_thread(d.terminate) for d in survivors))
    assert codes == [0, 0], codes
    left = await nrig.ready_messages()
    result = tally(receiver.hits, calls)
    repeated = repeats(receiver.hits, calls)
    for line in duplicates(receiver.hits, calls):
        print("duplicate:", line)
    print(
        f"handled at the kill: {at_kill}; the survivors' after: {after};"
        f" killed after {accepted_at_kill} accepted; all: {delivered}; left in the queue: {left}"
    )
    report(result, "one_of_three_killed")
    assert left == 0
    assert all(n > 0 for n in at_kill), at_kill
    assert all(a > b for a, b in zip(after, (at_kill[0], at_kill[2]), strict=True)), after
    assert result.duplicated <= PREFETCH, f"{result.duplicated} duplicates, prefetch {PREFETCH}"
    for call, found in repeated.items():
        assert len(found) == 2, (call, found)
        # sent again only once the victim was dying: its unacked event, redelivered (when
        # the first copy was seen is no proof of who sent it: this loop, blocked in the
        # kill, may read a request the victim sent before it died only afterwards)
        assert found[1].at > killed_from, (call, found)
