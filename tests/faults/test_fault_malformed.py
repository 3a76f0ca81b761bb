"""Fault 6: malformed AMQP messages are dead-lettered and counted; none crashes the daemon."""

from __future__ import annotations

import gzip
import zlib
from typing import Any

import aio_pika
import orjson
import pytest

from tests.conftest import AMQP_URL
from tests.faults.conftest import Rig
from tests.faults.rig import Kazoo, StartReceiver, make_live, metric_total, report, tally
from tests.waiting import eventually

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _event(tag: str, fields: dict[str, Any]) -> bytes:
    base = {"Event-Category": "call_event", "Event-Name": "CHANNEL_CREATE", "Call-ID": tag}
    return orjson.dumps({**base, **fields})


def _bomb(tag: str) -> bytes:
    """A JSON-looking gzip body that inflates to 64 MiB (about 65 kB compressed)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    parts = [compressor.compress(f'{{"Call-ID":"{tag}","x":"'.encode())]
    parts += [compressor.compress(b"0" * (1 << 20)) for _ in range(64)]
    return b"".join(parts) + compressor.flush()


def malformed(tag: str) -> list[tuple[str, bytes, dict[str, Any]]]:
    """(what it is, body, message properties); each body carries ``tag`` (compressed, in the
    last one), so that no two tests' bodies are alike."""
    return [
        ("not json", f"this is not JSON {tag} {{".encode(), {}),
        ("a JSON array", orjson.dumps([1, 2, tag]), {"content_type": "application/json"}),
        ("no Event-Category", orjson.dumps({"Event-Name": "CHANNEL_CREATE", "x": tag}), {}),
        ("no Event-Name", orjson.dumps({"Event-Category": "call_event", "x": tag}), {}),
        ("wrong types", orjson.dumps({"Event-Category": 7, "Event-Name": [tag]}), {}),
        ("5 MB body", f'{{"Event-Category":"{tag}","x":"'.encode() + b"a" * (5 << 20) + b'"}', {}),
        ("gzip-declared garbage", f"not gzip {tag}".encode(), {"content_encoding": "gzip"}),
        ("gzip of a JSON array", gzip.compress(orjson.dumps([tag])), {"content_encoding": "gzip"}),
        ("gzip bomb", _bomb(tag), {"content_encoding": "gzip"}),
        ("Account-ID a number", _event(tag, {"Custom-Channel-Vars": {"Account-ID": 5}}), {}),
        ("channel vars a list", _event(tag, {"Custom-Channel-Vars": [tag]}), {}),
        ("Event-Name an object", _event(tag, {"Event-Name": {"n": tag}}), {}),
    ]


async def test_malformed_messages_are_dead_lettered(
    rig: Rig, receivers: StartReceiver, kazoo: Kazoo
) -> None:
    """Each malformed message reaches webhooksd.dead_letter (seen through a private queue bound
    to the fanout) and webhooksd_events_dead_lettered_total; /readyz stays 200 and a good
    event published after them is delivered."""
    bad = malformed(rig.tag)
    receiver = await receivers()
    daemon = await rig.start()
    api = await rig.api(daemon)
    await api.create_hook("good", receiver.url + "/good")
    await make_live(kazoo, api.account, [receiver])
    status, text = await api.get_text("/metrics")
    before = metric_total(text, "webhooksd_events_dead_lettered_total")

    connection = await aio_pika.connect(AMQP_URL)
    async with connection:
        channel = await connection.channel()
        dead = await channel.declare_queue(exclusive=True, auto_delete=True)
        await dead.bind(await channel.get_exchange("webhooksd.dead_letter", ensure=False), "")
        for n, (_, body, props) in enumerate(bad):
            await kazoo.publish("callevt", f"call.CHANNEL_CREATE.bad-{rig.tag}-{n}", body, **props)
        await kazoo.call(api.account, "good-after")
        delivered = await receiver.wait_accepted(["good-after"], timeout=15)
        # every daemon bound to callevt (other tests' too) gets these messages and
        # dead-letters its copy into the fanout: keep this test's, from this daemon's queue
        mine: list[bytes] = []
        reasons: list[str] = []

        async def all_dead_lettered() -> bool:
            while (message := await dead.get(fail=False, no_ack=True)) is not None:
                # the daemon republishes what it rejects with its reason (no x-death then);
                # x-first-death-queue is set either way
                queue = message.headers.get("x-first-death-queue")
                ours = (message.routing_key or "").startswith(f"call.CHANNEL_CREATE.bad-{rig.tag}-")
                if ours and queue == rig.shared_queue:
                    mine.append(message.body)
                    reasons.append(str(message.headers.get("x-webhooksd-reason")))
            return len(mine) >= len(bad)

        await eventually(all_dead_lettered, timeout=10, what=f"{len(bad)} messages dead-lettered")
    ready, _ = await api.get_text("/readyz")
    status, text = await api.get_text("/metrics")
    counted = metric_total(text, "webhooksd_events_dead_lettered_total") - before
    result = tally(receiver.hits, ["good-after"])
    print(f"malformed={len(bad)} dead_lettered={len(mine)} counted={counted:g}")
    report(result, "malformed_then_good")
    assert daemon.running and ready == 200 and status == 200 and delivered
    assert sorted(mine) == sorted(body for _, body, _ in bad)
    assert all(reason.startswith("malformed: ") for reason in reasons), reasons
    # other tests' malformed messages reach this daemon too: it counts at least these
    assert counted >= len(bad)
