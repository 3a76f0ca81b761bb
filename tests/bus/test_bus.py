"""The Bus contract, run on both the in-process bus and real RabbitMQ."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter

import pytest

from tests.waiting import eventually
from webhooksd.bus import (
    DEAD_LETTER,
    MAX_REASON_CHARS,
    REASON_HEADER,
    Bus,
    Delivery,
    Message,
    QueueSpec,
)
from webhooksd.bus._delay import STEP, bucket_ms, bucket_name
from webhooksd.errors import BusError

from .support import Collector, Scratch, depth_becomes

#: binding key → the routing keys (of ROUTING_KEYS) it must receive
TOPIC_TABLE: dict[str, set[str]] = {
    "a.b.c": {"a.b.c"},
    "a.*.c": {"a.b.c", "a.x.c"},
    "a.*": {"a.b", "a.x"},
    "*": {"a", "c"},
    "a.#": {"a", "a.b", "a.x", "a.b.c", "a.x.c", "a.b.b.c"},
    "#.c": {"a.b.c", "a.x.c", "a.b.b.c", "c"},
    "a.#.c": {"a.b.c", "a.x.c", "a.b.b.c"},
    "#": {"a", "a.b", "a.x", "a.b.c", "a.x.c", "a.b.b.c", "c", "b.a"},
    "*.a": {"b.a"},
}
ROUTING_KEYS = ["a", "a.b", "a.x", "a.b.c", "a.x.c", "a.b.b.c", "c", "b.a"]


async def _declare(bus: Bus, scratch: Scratch, label: str, **flags: bool) -> str:
    return await bus.declare_queue(QueueSpec(name=scratch.queue(label), **flags))


async def test_topic_routing_table(bus: Bus, scratch: Scratch) -> None:
    """Each topic binding (literal, `*`, `#`) receives exactly the routing keys it matches."""
    exchange = scratch.exchange()
    await bus.declare_exchange(exchange, "topic")
    queues = {}
    for number, pattern in enumerate(TOPIC_TABLE):
        queues[pattern] = await _declare(bus, scratch, f"t{number}")
        await bus.bind(queues[pattern], exchange, pattern)
    for key in ROUTING_KEYS:
        await bus.publish(exchange, key, key.encode())
    for pattern, expected in TOPIC_TABLE.items():
        assert await bus.queue_depth(queues[pattern]) == len(expected), pattern
        collector = Collector()
        consumer = await bus.consume(queues[pattern], collector, prefetch=20)
        received = await collector.wait_for(len(expected))
        await consumer.cancel()
        assert {m.body.decode() for m in received} == expected, pattern
        assert all(m.exchange == exchange and m.body.decode() == m.routing_key for m in received)


async def test_direct_and_fanout(bus: Bus, scratch: Scratch) -> None:
    """A direct exchange routes on the exact key; a fanout exchange copies to every queue."""
    direct, fanout = scratch.exchange("direct"), scratch.exchange("fanout")
    await bus.declare_exchange(direct, "direct")
    await bus.declare_exchange(fanout, "fanout")
    one, two = await _declare(bus, scratch, "one"), await _declare(bus, scratch, "two")
    await bus.bind(one, direct, "k1")
    await bus.bind(two, direct, "k2")
    await bus.bind(one, fanout, "ignored")
    await bus.bind(two, fanout, "")
    await bus.publish(direct, "k1", b"d1")
    await bus.publish(direct, "k2.x", b"nobody")
    await bus.publish(fanout, "whatever", b"f")
    assert await bus.queue_depth(one) == 2
    assert await bus.queue_depth(two) == 1


async def test_callevt_channel_create_routing(bus: Bus, scratch: Scratch) -> None:
    """Kazoo's `call.CHANNEL_CREATE.<id>` on callevt reaches a `call.CHANNEL_CREATE.*` binding."""
    queue = await _declare(bus, scratch, "callevt")
    await bus.bind(queue, "callevt", "call.CHANNEL_CREATE.*")
    call_id = f"{uuid.uuid4().hex}%2Eabc+def"  # Kazoo encodes '.' and ' ' in call ids
    await bus.publish("callevt", f"call.CHANNEL_CREATE.{call_id}", b"create")
    await bus.publish("callevt", f"call.CHANNEL_DESTROY.{call_id}", b"destroy")
    await bus.publish("callevt", f"call.CHANNEL_CREATE.{call_id}.end", b"too deep")
    await bus.publish("callevt", f"call.CHANNEL_CREATE.{call_id}", b"marker")
    collector = Collector()
    await bus.consume(queue, collector, prefetch=5)

    # callevt is Kazoo's shared exchange: a real platform (or another test run on the same
    # broker) may publish its own CHANNEL_CREATEs to it, so only this test's call id counts
    def mine() -> list[Message]:
        ours = [m for m in collector.received if call_id in m.routing_key]
        return ours if len(ours) >= 2 else []

    create, marker = await eventually(mine, what="this test's two CHANNEL_CREATEs")
    assert (create.body, create.routing_key) == (b"create", f"call.CHANNEL_CREATE.{call_id}")
    assert marker.body == b"marker"  # the DESTROY and the deeper key, published before, never came
    assert create.content_type == "application/json"


async def test_unbind_stops_routing(bus: Bus, scratch: Scratch) -> None:
    """After unbind the queue no longer receives, and a mandatory publish is unroutable."""
    exchange = scratch.exchange()
    await bus.declare_exchange(exchange, "topic")
    queue = await _declare(bus, scratch, "q")
    await bus.bind(queue, exchange, "k.*")
    await bus.publish(exchange, "k.1", b"1", mandatory=True)
    await bus.unbind(queue, exchange, "k.*")
    with pytest.raises(BusError):
        await bus.publish(exchange, "k.2", b"2", mandatory=True)
    assert await bus.queue_depth(queue) == 1


async def test_prefetch_bounds_concurrency(bus: Bus, scratch: Scratch) -> None:
    """With prefetch 3 no more than 3 handlers run at once, and all messages get handled."""
    queue = await _declare(bus, scratch, "q")
    active, peak, done = 0, 0, 0
    gate, three = asyncio.Event(), asyncio.Event()

    async def handler(delivery: Delivery) -> None:
        nonlocal active, peak, done
        active += 1
        peak = max(peak, active)
        if active == 3:
            three.set()
        await gate.wait()
        active -= 1
        done += 1
        await delivery.ack()

    for n in range(10):
        await bus.publish("", queue, str(n).encode())
    await bus.consume(queue, handler, prefetch=3)
    await asyncio.wait_for(three.wait(), 5)
    await asyncio.sleep(0.2)  # time for a 4th delivery, if the bound were broken
    assert active == 3
    gate.set()
    await eventually(lambda: done == 10)
    assert peak == 3


async def test_ack_removes_the_message(bus: Bus, scratch: Scratch) -> None:
    """An acked message is not redelivered after its consumer is cancelled."""
    queue = await _declare(bus, scratch, "q", durable=True)
    await bus.publish("", queue, b"x")
    collector = Collector()
    consumer = await bus.consume(queue, collector, prefetch=1)
    await collector.wait_for(1)
    await consumer.cancel()
    # no event says "not redelivered": give an unacked message time to be back in the queue
    await asyncio.sleep(0.2)
    assert await bus.queue_depth(queue) == 0


async def test_requeue_redelivers_with_flag(bus: Bus, scratch: Scratch) -> None:
    """A requeued message comes back with redelivered=True; the first delivery had False."""
    queue = await _declare(bus, scratch, "q")
    collector = Collector(decide=lambda d: "ack" if d.message.redelivered else "requeue")
    await bus.publish("", queue, b"again", message_id="m-1", headers={"h": "v"})
    await bus.consume(queue, collector, prefetch=1)
    first, second = await collector.wait_for(2)
    assert (first.redelivered, second.redelivered) == (False, True)
    assert first.body == second.body == b"again"
    assert (second.message_id, second.headers.get("h")) == ("m-1", "v")
    await depth_becomes(bus, queue, 0)


async def test_dead_letter_goes_to_dead_letter_exchange(bus: Bus, scratch: Scratch) -> None:
    """dead_letter on a dead_letter=True queue routes the message through DEAD_LETTER."""
    queue = await _declare(bus, scratch, "q", dead_letter=True)
    # a private copy of what DEAD_LETTER (a fanout exchange) receives; other tests share it
    watcher = await _declare(bus, scratch, "watch")
    await bus.bind(watcher, DEAD_LETTER, "")
    before = await bus.queue_depth(DEAD_LETTER)
    await bus.publish("", queue, b"poison")
    await bus.consume(queue, Collector(decide=lambda _d: "dead_letter"), prefetch=1)
    watch = Collector()
    await bus.consume(watcher, watch, prefetch=1)
    [dead] = await watch.wait_for(1)
    assert (dead.body, dead.exchange) == (b"poison", DEAD_LETTER)
    assert await bus.queue_depth(queue) == 0
    if scratch.kind == "memory":  # the real DEAD_LETTER queue is shared with other runs
        assert await bus.queue_depth(DEAD_LETTER) == (before or 0) + 1


async def test_dead_letter_carries_its_reason(bus: Bus, scratch: Scratch) -> None:
    """A reason given to dead_letter travels in REASON_HEADER (cut to MAX_REASON_CHARS),
    with where the message came from; body, encoding and headers are kept."""
    queue = await _declare(bus, scratch, "q", dead_letter=True)
    watcher = await _declare(bus, scratch, "watch")
    await bus.bind(watcher, DEAD_LETTER, "")
    await bus.publish("", queue, b"poison", headers={"h": "v"}, message_id="m-1")
    reason = "malformed: " + "x" * 1000
    await bus.consume(queue, Collector(decide=lambda _d: "dead_letter", reason=reason), prefetch=1)
    watch = Collector()
    await bus.consume(watcher, watch, prefetch=1)
    [dead] = await watch.wait_for(1)
    assert (dead.body, dead.exchange, dead.message_id) == (b"poison", DEAD_LETTER, "m-1")
    assert dead.headers[REASON_HEADER] == reason[:MAX_REASON_CHARS]
    assert dead.headers["h"] == "v"
    assert dead.headers["x-first-death-queue"] == queue
    await depth_becomes(bus, queue, 0)


async def test_handler_exception_requeues_and_consumer_survives(bus: Bus, scratch: Scratch) -> None:
    """An exception escaping the handler requeues that message and later ones still arrive."""
    queue = await _declare(bus, scratch, "q")
    collector = Collector(
        decide=lambda d: "raise" if d.message.body == b"bad" and not d.message.redelivered
        else "ack"
    )  # fmt: skip
    await bus.consume(queue, collector, prefetch=2)
    await bus.publish("", queue, b"bad")
    await collector.wait_for(2)
    await bus.publish("", queue, b"after")
    received = await collector.wait_for(3)
    assert Counter(m.body for m in received) == {b"bad": 2, b"after": 1}
    assert [m.redelivered for m in received if m.body == b"bad"] == [False, True]
    await depth_becomes(bus, queue, 0)


async def test_delayed_publish_waits_and_orders_by_due_time(bus: Bus, scratch: Scratch) -> None:
    """Delayed messages arrive no earlier than asked (at most one rounding step late), in due
    order, whatever the publish order."""
    queue = await _declare(bus, scratch, "q", durable=True)
    delays = [900, 300, 600, 0]
    for delay in delays:
        if delay:
            scratch.queues.append(bucket_name(queue, bucket_ms(delay)))
    arrived: dict[bytes, float] = {}
    collector = Collector()
    await bus.consume(queue, collector, prefetch=10)
    loop = asyncio.get_running_loop()
    start = loop.time()
    for delay in delays:
        await bus.publish_delayed(queue, str(delay).encode(), delay, message_id=f"d{delay}")
    while len(arrived) < len(delays):
        await collector.wait_for(len(arrived) + 1)
        arrived.setdefault(collector.received[len(arrived)].body, loop.time() - start)
    assert collector.bodies() == [b"0", b"300", b"600", b"900"]
    for body, elapsed_s in arrived.items():
        delay = int(body)
        assert delay / 1000 <= elapsed_s < delay * STEP / 1000 + 0.5, (delay, elapsed_s)
    assert [m.message_id for m in collector.received] == ["d0", "d300", "d600", "d900"]


async def test_mandatory_unroutable_raises(bus: Bus, scratch: Scratch) -> None:
    """A mandatory publish nobody receives raises BusError; a plain one is silently dropped."""
    exchange = scratch.exchange()
    await bus.declare_exchange(exchange, "topic")
    await bus.publish(exchange, "nobody.listens", b"x")
    with pytest.raises(BusError):
        await bus.publish(exchange, "nobody.listens", b"x", mandatory=True)
    with pytest.raises(BusError):
        await bus.publish("", scratch.queue("missing"), b"x", mandatory=True)
    queue = await _declare(bus, scratch, "q")
    await bus.publish("", queue, b"x", mandatory=True, persistent=True)
    assert await bus.queue_depth(queue) == 1


async def test_queue_depth(bus: Bus, scratch: Scratch) -> None:
    """queue_depth counts ready messages, not unacked ones; a missing queue gives None."""
    queue = await _declare(bus, scratch, "q")
    assert await bus.queue_depth(queue) == 0
    for n in range(3):
        await bus.publish("", queue, str(n).encode())
    assert await bus.queue_depth(queue) == 3
    collector = Collector(decide=lambda _d: "hold")
    await bus.consume(queue, collector, prefetch=1)
    await collector.wait_for(1)
    await depth_becomes(bus, queue, 2)
    assert await bus.queue_depth(scratch.queue("missing")) is None


async def test_two_consumers_share_a_queue(bus: Bus, scratch: Scratch) -> None:
    """Two consumers of one queue each get some of the messages, and each message once."""
    queue = await _declare(bus, scratch, "q")
    first, second = Collector(), Collector()
    await bus.consume(queue, first, prefetch=1)
    await bus.consume(queue, second, prefetch=1)
    for n in range(20):
        await bus.publish("", queue, str(n).encode())
    await eventually(lambda: len(first.received) + len(second.received) >= 20)
    await asyncio.sleep(0.1)  # time for a second delivery of any message, if there were one
    bodies = first.bodies() + second.bodies()
    assert sorted(bodies) == sorted(str(n).encode() for n in range(20))
    assert first.received and second.received


async def test_cancelled_consumer_returns_unacked_to_durable_queue(
    bus: Bus, scratch: Scratch
) -> None:
    """Unsettled deliveries of a cancelled consumer stay in the durable queue and go to the
    next consumer, marked redelivered."""
    queue = await _declare(bus, scratch, "q", durable=True)
    held = Collector(decide=lambda _d: "hold")
    consumer = await bus.consume(queue, held, prefetch=5)
    for body in (b"1", b"2"):
        await bus.publish("", queue, body, persistent=True)
    await held.wait_for(2)
    await consumer.cancel()
    nxt = Collector()
    await bus.consume(queue, nxt, prefetch=5)
    received = await nxt.wait_for(2)
    assert sorted(m.body for m in received) == [b"1", b"2"]
    assert all(m.redelivered for m in received)
    assert len(held.received) == 2


async def test_settling_after_cancel_still_counts(bus: Bus, scratch: Scratch) -> None:
    """A delivery already in the handler when its consumer is cancelled can still be acked."""
    queue = await _declare(bus, scratch, "q", durable=True)
    gate = asyncio.Event()
    handed: list[Delivery] = []

    async def handler(delivery: Delivery) -> None:
        handed.append(delivery)
        await gate.wait()
        await delivery.ack()

    consumer = await bus.consume(queue, handler, prefetch=1)
    await bus.publish("", queue, b"in-flight")
    await eventually(lambda: handed)
    await consumer.cancel()
    gate.set()
    # the depth is 0 before the ack too: give a lost ack time to put the message back
    await asyncio.sleep(0.2)
    assert await bus.queue_depth(queue) == 0


async def test_auto_delete_queue_goes_with_last_consumer(bus: Bus, scratch: Scratch) -> None:
    """An auto-delete queue exists while consumed and disappears when its last consumer goes."""
    queue = await _declare(bus, scratch, "q", auto_delete=True)
    one = await bus.consume(queue, Collector(), prefetch=1)
    two = await bus.consume(queue, Collector(), prefetch=1)
    await one.cancel()
    assert await bus.queue_depth(queue) == 0
    await two.cancel()
    await depth_becomes(bus, queue, None)


async def test_server_named_exclusive_queue(bus: Bus, scratch: Scratch) -> None:
    """An empty name gets a fresh server-chosen name; the queue is reachable by that name."""
    first = await bus.declare_queue(QueueSpec(exclusive=True, auto_delete=True))
    second = await bus.declare_queue(QueueSpec(exclusive=True, auto_delete=True))
    scratch.queues += [first, second]
    assert first and second and first != second
    await bus.bind(first, "configuration", f"doc_created.{scratch.prefix}.*")
    await bus.publish("configuration", f"doc_created.{scratch.prefix}.1", b"x", mandatory=True)
    assert await bus.queue_depth(first) == 1
    collector = Collector()
    await bus.consume(first, collector, prefetch=1)
    [message] = await collector.wait_for(1)
    assert message.routing_key == f"doc_created.{scratch.prefix}.1"
    if scratch.kind == "memory":
        assert first.startswith("amq.gen-")


async def test_conflicting_redeclare_fails_and_bus_recovers(bus: Bus, scratch: Scratch) -> None:
    """Redeclaring a queue or exchange with other flags raises BusError; the bus still works."""
    queue = await _declare(bus, scratch, "q", durable=True)
    with pytest.raises(BusError):
        await bus.declare_queue(QueueSpec(name=queue, durable=False))
    exchange = scratch.exchange()
    await bus.declare_exchange(exchange, "topic")
    with pytest.raises(BusError):
        await bus.declare_exchange(exchange, "direct")
    other = await _declare(bus, scratch, "other")
    await bus.bind(other, exchange, "k")
    await bus.publish(exchange, "k", b"x", mandatory=True)
    assert await bus.queue_depth(other) == 1
