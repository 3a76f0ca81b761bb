"""``make bench``: the daemon against a bare relay, end to end on the real RabbitMQ.

Runs, in one go on one machine (every figure is a ratio or a curve from this one run):

1. throughput and publish→delivery latency of the bare relay and of the daemon (default
   configuration: matching, Kazoo payloads, attempts recorded), at full speed and at fixed
   rates;
2. hook-table scale: time to find one event's hooks with 1k, 10k and 100k hooks over 10k
   accounts, start-up load of 100k hooks, resident memory of a daemon holding them;
3. API: requests per second and p99 for listing and creating hooks.

Results go to ``bench/results/latest.json`` and ``bench/results/bench.png``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from bench.publisher import publish

AMQP_URL = os.environ.get("WEBHOOKSD_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
RESULTS = Path(__file__).resolve().parent / "results"
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]


def _log_sink() -> int:
    """Where the processes' logs go: ``BENCH_LOG=<file>`` appends them there (warnings and up:
    why a run went wrong), else nowhere."""
    path = os.environ.get("BENCH_LOG")
    if not path:
        return subprocess.DEVNULL
    return os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)


@asynccontextmanager
async def process(
    args: list[str], env: dict[str, str] | None = None, ready: Callable[[], Any] | None = None
) -> AsyncIterator[subprocess.Popen[bytes]]:
    sink = _log_sink()
    try:
        proc = subprocess.Popen(
            args, env={**os.environ, **(env or {})}, stdout=subprocess.PIPE, stderr=sink
        )
    finally:
        if sink != subprocess.DEVNULL:
            os.close(sink)  # the child has its own copy
    try:
        if ready is None:
            assert proc.stdout is not None
            line = await asyncio.to_thread(proc.stdout.readline)
            assert b"ready" in line, line
        else:
            await ready()
        yield proc
    finally:
        proc.terminate()
        await asyncio.to_thread(proc.wait, 30)


#: seconds without a delivery after which a run whose sender is idle is over (see wait_for)
STILL_S = 5.0


class Receiver:
    def __init__(self, http: aiohttp.ClientSession, port: int) -> None:
        self.http, self.base = http, f"http://127.0.0.1:{port}"

    async def reset(self) -> None:
        async with self.http.post(self.base + "/reset") as resp:
            await resp.read()

    async def stats(self) -> dict[str, Any]:
        async with self.http.get(self.base + "/stats") as resp:
            return dict(await resp.json())

    async def wait_for(
        self, count: int, timeout: float, idle: Callable[[], Awaitable[bool]] | None = None
    ) -> dict[str, Any]:
        """Until ``count`` arrived, ``timeout`` passed, or (with ``idle``) the count has not
        moved for ``STILL_S`` and ``idle()`` says the sender has nothing left to send: events
        deferred to the retry queue come back minutes later, if at all, and waiting the whole
        timeout for each run only hid that something was wrong."""
        deadline = time.monotonic() + timeout
        last, moved = -1, time.monotonic()
        while True:
            stats = await self.stats()
            now = time.monotonic()
            if stats["count"] >= count or now > deadline:
                return stats
            if stats["count"] != last:
                last, moved = stats["count"], now
            elif idle is not None and now - moved >= STILL_S and await idle():
                return stats
            await asyncio.sleep(0.05)


def cpu_s(pid: int) -> float:
    """CPU seconds (user + system, every thread) a process and the processes it started
    (``--workers``: the parent and every worker) have used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    own = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        children = []
    for child in children:
        with contextlib.suppress(OSError):  # it exited meanwhile
            own += cpu_s(int(child))
    return own


_FAILED = "webhooksd_deliveries_total"
#: the daemon's counters a run is checked with (and, when it failed, reported)
_COUNTERS = {
    "webhooksd_hooks_auto_disabled_total": "auto_disabled",
    "webhooksd_attempts_deferred_total": "deferred",
    _FAILED: "failed_attempts",
    "webhooksd_retries_queued_total": "retries_queued",
    "webhooksd_events_dead_lettered_total": "dead_lettered",
    "webhooksd_instance_events_handled_total": "events_handled",
}


class Checked:
    """What a daemon's run must come to, checked after each measure: every event delivered,
    no hook auto-disabled and, at full speed, no attempt deferred (a healthy endpoint's
    events are delivered in place however busy the daemon is). A run that broke one of
    these raised, rather than hang or report figures of a daemon that dropped work."""

    def __init__(self, http: aiohttp.ClientSession, apis: list[str], queue: str) -> None:
        self.http, self.apis, self.queue = http, apis, queue

    async def counters(self) -> dict[str, float]:
        """The daemon's auto-disabled and deferred totals, summed over its workers (a
        counter the daemon does not have counts 0)."""
        totals = dict.fromkeys(_COUNTERS.values(), 0.0)
        for api in self.apis:
            async with self.http.get(api + "/metrics") as resp:
                text = await resp.text()
            for line in text.splitlines():
                name = line.split("{", 1)[0].split(" ", 1)[0]
                if name in _COUNTERS and (name != _FAILED or 'result="failure"' in line):
                    totals[_COUNTERS[name]] += float(line.split()[-1])
        return totals

    async def idle(self) -> bool:
        """No event of the shared queue is waiting for the daemon."""
        import aio_pika

        connection = await aio_pika.connect(AMQP_URL)
        async with connection:
            channel = await connection.channel()
            queue = await channel.declare_queue(self.queue, passive=True)
            return not queue.declaration_result.message_count

    async def check(
        self, before: dict[str, float], result: dict[str, Any], full_speed: bool
    ) -> None:
        after = await self.counters()
        deferred = after["deferred"] - before["deferred"]
        result["deferred"] = deferred
        problems = []
        if result["delivered"] < result["events"]:
            problems.append(f"{result['delivered']} of {result['events']} events delivered")
        if after["auto_disabled"]:
            problems.append(f"{after['auto_disabled']:.0f} hooks auto-disabled")
        if full_speed and deferred:
            problems.append(f"{deferred:.0f} attempts deferred at full speed")
        if problems:
            moved = {k: after[k] - before[k] for k in after if k != "auto_disabled"}
            raise RuntimeError(
                f"daemon run failed ({'; '.join(problems)}): {result}; during the run: {moved}"
            )


async def measure(
    receiver: Receiver,
    account: str,
    count: int,
    rate: float | None,
    pid: int,
    checked: Checked | None = None,
) -> dict[str, Any]:
    """Throughput and latency of one run, and the CPU the consuming process spent per event:
    a figure the other processes on a shared machine disturb much less than events/s. With
    ``checked`` (the daemon), the run raises unless it delivered everything (see Checked)."""
    await receiver.reset()
    before = await checked.counters() if checked is not None else {}
    cpu_before = cpu_s(pid)
    started = await publish(AMQP_URL, account, count, rate)
    # a long bound, as a run that stopped moving ends early (wait_for's idle): a daemon slowed
    # by a loaded machine is measured to the end, not cut off with events still coming
    stats = await receiver.wait_for(
        count, timeout=max(120.0, count / 50), idle=checked.idle if checked else None
    )
    cpu_ms = (cpu_s(pid) - cpu_before) * 1000
    elapsed = stats["last"] - started if stats["count"] else float("nan")
    lat = stats["latencies_ms"]
    result = {
        "events": count,
        "delivered": stats["count"],
        "rate": rate,
        "cpu_ms_per_event": round(cpu_ms / max(stats["count"], 1), 3),
        "events_per_s": round(stats["count"] / elapsed, 1) if elapsed else None,
        "p50_ms": round(percentile(lat, 50), 2),
        "p95_ms": round(percentile(lat, 95), 2),
        "p99_ms": round(percentile(lat, 99), 2),
    }
    if checked is not None:
        await checked.check(before, result, full_speed=rate is None)
    return result


#: full-speed runs per side; the median by events/s is the headline (the others are kept)
FULL_RUNS = 3
WARM_UP_EVENTS = 2_000


async def measure_full(
    receiver: Receiver, account: str, count: int, pid: int, checked: Checked | None = None
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A warm-up (connections, the store's file and caches; not reported), then ``FULL_RUNS``
    runs at full speed: the median one and all of them. One run alone swings by a quarter on
    a shared machine."""
    await measure(receiver, account, WARM_UP_EVENTS, None, pid, checked)
    runs = [await measure(receiver, account, count, None, pid, checked) for _ in range(FULL_RUNS)]
    ranked = sorted(runs, key=lambda r: r["events_per_s"] or 0.0)
    return ranked[len(ranked) // 2], runs


#: fixed rates measured three times, the median by p99 reported (``runs_rate_<n>`` keeps
#: them all): the figure a shared machine moves most
REPEATED_RATES = frozenset({1000.0})


async def measure_rates(
    out: dict[str, Any],
    receiver: Receiver,
    account: str,
    rates: list[float],
    pid: int,
    checked: Checked | None = None,
) -> None:
    """Ten seconds at each fixed rate, into ``out["rate_<n>"]``."""
    for rate in rates:
        times = 3 if rate in REPEATED_RATES else 1
        runs = [
            await measure(receiver, account, int(rate * 10), rate, pid, checked)
            for _ in range(times)
        ]
        ranked = sorted(runs, key=lambda r: r["p99_ms"])
        out[f"rate_{int(rate)}"] = ranked[len(ranked) // 2]
        if times > 1:
            out[f"runs_rate_{int(rate)}"] = runs


async def run_relay(
    receiver: Receiver, port: int, count: int, rates: list[float]
) -> dict[str, Any]:
    queue = f"bench_relay.{uuid.uuid4().hex[:8]}"
    args = [
        sys.executable,
        "-m",
        "bench.relay",
        "--amqp-url",
        AMQP_URL,
        "--queue",
        queue,
        "--target",
        f"http://127.0.0.1:{port}/hook",
    ]
    async with process(args) as proc:
        full, runs = await measure_full(receiver, "relay", count, proc.pid)
        out: dict[str, Any] = {"full": full, "full_runs": runs}
        await measure_rates(out, receiver, "relay", rates, proc.pid)
    await delete_queue(queue)
    return out


async def delete_queue(name: str) -> None:
    import aio_pika

    connection = await aio_pika.connect(AMQP_URL)
    async with connection:
        channel = await connection.channel()
        await channel.queue_delete(name, if_unused=False, if_empty=False)


def daemon_env(
    workdir: Path, api_port: int, tag: str, store_url: str | None = None
) -> dict[str, str]:
    return {
        "WEBHOOKSD_AMQP_URL": AMQP_URL,
        "WEBHOOKSD_STORE_URL": store_url or f"sqlite:///{workdir}/bench.sqlite3",
        "WEBHOOKSD_API_LISTEN": f"127.0.0.1:{api_port}",
        "WEBHOOKSD_ALLOW_PRIVATE_TARGETS": "true",
        "WEBHOOKSD_SHARED_QUEUE": f"webhooks_shared_listener.bench.{tag}",
        "WEBHOOKSD_RETRY_QUEUE": f"webhooks_retry.bench.{tag}",
        "WEBHOOKSD_LOG_LEVEL": "warning",
    }


def bootstrap(env: dict[str, str], key: str) -> None:
    """Create the master account with ``key`` in the daemon's store."""
    subprocess.run(
        [str(BIN / "webhooksd"), "bootstrap", "--api-key", key],
        env={**os.environ, **env},
        check=True,
        capture_output=True,
    )


async def wait_ready(http: aiohttp.ClientSession, api: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            async with http.get(api + "/readyz") as resp:
                if resp.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.1)
    raise TimeoutError("daemon not ready")


async def api_call(
    http: aiohttp.ClientSession, method: str, url: str, token: str, data: Any = None
) -> Any:
    body = orjson.dumps({"data": data}) if data is not None else None
    async with http.request(
        method, url, data=body, headers={"X-Auth-Token": token, "Content-Type": "application/json"}
    ) as resp:
        return await resp.json(content_type=None)


async def login(http: aiohttp.ClientSession, api: str, key: str) -> tuple[str, str]:
    resp = await api_call(http, "PUT", api + "/v2/api_auth", "", {"api_key": key})
    return resp["auth_token"], resp["data"]["account_id"]


@asynccontextmanager
async def profiled(pid: int) -> AsyncIterator[None]:
    """With ``BENCH_PROFILE=<file>``: py-spy samples the daemon (every thread, native frames
    left out) while it runs at full speed, into ``<file>`` as collapsed stacks (see
    ``bench/profile.py`` for the table). py-spy reads the process from outside, pausing it
    for each sample (``--nonblocking`` reads torn stacks: whole functions were misplaced);
    the figures of a profiled run are not the benchmark's."""
    out = os.environ.get("BENCH_PROFILE")
    if not out:
        yield
        return
    spy = subprocess.Popen(
        [
            *(str(BIN / "py-spy"), "record", "--pid", str(pid), "--format", "raw"),
            *("--rate", "250", "--output", out),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        await asyncio.sleep(1.0)  # attached before the first event
        yield
    finally:
        spy.send_signal(signal.SIGINT)
        await asyncio.to_thread(spy.wait, 30)


def free_ports(count: int) -> int:
    """A port p with p + 1 … p + count - 1 free too (worker i listens on p + i)."""
    while True:
        port = free_port()
        socks = []
        try:
            for offset in range(1, count):
                sock = socket.socket()
                socks.append(sock)
                sock.bind(("127.0.0.1", port + offset))
            return port
        except OSError:
            continue
        finally:
            for sock in socks:
                sock.close()


async def wait_hooks(
    http: aiohttp.ClientSession, api: str, expected: int, timeout: float = 30
) -> None:
    """Until the worker behind ``api`` has the hook loaded (``--workers``: each has its own
    table, told by the config notice)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        async with http.get(api + "/metrics") as resp:
            text = await resp.text()
        loaded = [line for line in text.splitlines() if line.startswith("webhooksd_hooks_loaded ")]
        if loaded and float(loaded[0].split()[1]) >= expected:
            return
        await asyncio.sleep(0.1)
    raise TimeoutError("hook not loaded")


async def run_daemon(
    http: aiohttp.ClientSession,
    receiver: Receiver,
    receiver_port: int,
    count: int,
    rates: list[float],
    workers: int = 1,
    extra_hooks: int = 0,
    full_speed: bool = True,
) -> dict[str, Any]:
    """The daemon's figures; ``extra_hooks``: that many hooks of 10,000 other accounts loaded
    beside the benchmark's one (latency with a big table)."""
    workdir = Path(tempfile.mkdtemp(prefix="webhooksd-bench-"))
    api_port, tag, key = free_ports(workers), uuid.uuid4().hex[:8], secrets.token_hex(32)
    # BENCH_STORE_URL: an empty PostgreSQL database, to compare the stores (default: SQLite)
    env = daemon_env(workdir, api_port, tag, store_url=os.environ.get("BENCH_STORE_URL"))
    if extra_hooks:
        from bench import scale

        await scale.seed_store(env["WEBHOOKSD_STORE_URL"], scale.accounts(), extra_hooks)
    bootstrap(env, key)
    api = f"http://127.0.0.1:{api_port}"
    apis = [f"http://127.0.0.1:{api_port + i}" for i in range(workers)]

    async def ready() -> None:
        for each in apis:
            await wait_ready(http, each)

    try:
        async with process(
            # no flag for one worker: the same command runs code from before `workers` (A/B)
            [str(BIN / "webhooksd"), "run", *(["--workers", str(workers)] if workers > 1 else [])],
            env,
            ready=ready,
        ) as proc:
            token, account = await login(http, api, key)
            await api_call(
                http,
                "PUT",
                f"{api}/v2/accounts/{account}/webhooks",
                token,
                {
                    "name": "bench",
                    "hook": "channel_create",
                    "http_verb": "post",
                    "format": "json",
                    "uri": f"http://127.0.0.1:{receiver_port}/hook",
                },
            )
            for each in apis:
                await wait_hooks(http, each, 1 + extra_hooks)
            await asyncio.sleep(0.5)
            checked = Checked(http, apis, env["WEBHOOKSD_SHARED_QUEUE"])
            out: dict[str, Any] = {}
            if full_speed:
                async with profiled(proc.pid):
                    full, runs = await measure_full(receiver, account, count, proc.pid, checked)
                out = {"full": full, "full_runs": runs}
            await measure_rates(out, receiver, account, rates, proc.pid, checked)
        return out
    finally:
        await delete_queue(f"webhooks_shared_listener.bench.{tag}")
        await delete_queue(f"webhooks_retry.bench.{tag}")
        shutil.rmtree(workdir, ignore_errors=True)


async def main(
    count: int, rates: list[float], skip: set[str], workers: list[int]
) -> dict[str, Any]:
    from bench import scale  # imported late: it imports the package under test

    results: dict[str, Any] = {
        "machine": {"cores": os.cpu_count(), "python": sys.version.split()[0]},
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    port = free_port()
    receiver_args = [sys.executable, "-m", "bench.receiver", "--port", str(port)]
    async with aiohttp.ClientSession() as http, process(receiver_args):
        receiver = Receiver(http, port)
        if "relay" not in skip and "e2e" not in skip:
            results["relay"] = await run_relay(receiver, port, count, rates)
            print("relay", results["relay"], flush=True)
        if "daemon" not in skip and "e2e" not in skip:
            results["daemon"] = await run_daemon(http, receiver, port, count, rates)
            print("daemon", results["daemon"], flush=True)
        if "daemon" not in skip and "e2e" not in skip and "100k" not in skip:
            # p99 at 1,000 events/s with 100,000 other hooks in the table
            results["daemon_100k_hooks"] = await run_daemon(
                http, receiver, port, count, [1000.0], extra_hooks=100_000, full_speed=False
            )
            print("daemon_100k_hooks", results["daemon_100k_hooks"], flush=True)
        for n in workers:
            if n > 1 and "daemon" not in skip and "e2e" not in skip:
                # full speed only: what more processes are for
                key = f"daemon_workers_{n}"
                results[key] = await run_daemon(http, receiver, port, count, [], workers=n)
                print(key, results[key], flush=True)
        if "relay" in results and "daemon" in results:
            relay_rate = results["relay"]["full"]["events_per_s"]
            daemon_rate = results["daemon"]["full"]["events_per_s"]
            results["throughput_ratio"] = round(daemon_rate / relay_rate, 3)
            relay_cpu = results["relay"]["full"]["cpu_ms_per_event"]
            daemon_cpu = results["daemon"]["full"]["cpu_ms_per_event"]
            results["cpu_per_event_ratio"] = round(daemon_cpu / relay_cpu, 3)
            for n in workers:
                if f"daemon_workers_{n}" in results:
                    many = results[f"daemon_workers_{n}"]["full"]["events_per_s"]
                    results[f"throughput_ratio_workers_{n}"] = round(many / relay_rate, 3)
    if "scale" not in skip:
        results["scale"] = await scale.run()
        print("scale", results["scale"], flush=True)
    if "api" not in skip:
        results["api"] = await scale.run_api()
        print("api", results["api"], flush=True)
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--rates", default="250,500,1000,2000")
    parser.add_argument(
        "--skip",
        default="",
        help="comma-separated: e2e (relay and daemon),relay,daemon,100k,scale,api",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=RESULTS,
        help="where latest.json and bench.png go (an A/B run need not replace the committed ones)",
    )
    parser.add_argument(
        "--workers", default="1,2", help="worker counts of the daemon (1 is always run)"
    )
    parser.add_argument("--no-plot", action="store_true", help="write the JSON only")
    args = parser.parse_args()
    rates = [float(r) for r in args.rates.split(",") if r]
    skip = set(filter(None, args.skip.split(",")))
    workers = [int(n) for n in args.workers.split(",") if n]
    data = asyncio.run(main(args.events, rates, skip, workers))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "latest.json").write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2))
    if "relay" in data and "daemon" in data and not args.no_plot:
        from bench import plot

        plot.render(data, args.out / "bench.png")
    print(f"wrote {args.out / 'latest.json'}", flush=True)
