"""Hook-table scale and API load, measured in-process and against a daemon subprocess."""

from __future__ import annotations

import asyncio
import random
import secrets
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp

from bench.run import (
    BIN,
    api_call,
    bootstrap,
    daemon_env,
    free_port,
    login,
    percentile,
    process,
    wait_ready,
)
from webhooksd.hooks.table import HookTable
from webhooksd.kazoo.ids import new_id
from webhooksd.records import Account, HookDoc
from webhooksd.store import open_store

ACCOUNTS = 10_000
EVENTS = ("channel_create", "channel_answer", "channel_destroy", "object", "all")


def accounts() -> list[Account]:
    root = Account(id=new_id(), name="root", is_reseller=True)
    out = [root]
    for n in range(ACCOUNTS - 1):
        out.append(Account(id=new_id(), name=f"a{n}", parent_id=root.id, tree=(root.id,)))
    return out


def hook_docs(accts: list[Account], count: int) -> list[HookDoc]:
    rng = random.Random(count)
    return [
        HookDoc(
            id=new_id(),
            account_id=rng.choice(accts).id,
            doc={
                "name": f"h{n}",
                "uri": "http://127.0.0.1:9/hook",
                "hook": rng.choice(EVENTS),
                "http_verb": "post",
                "format": "json",
                "retries": 2,
                "enabled": True,
                "include_internal_legs": True,
                "include_subaccounts": n % 10 == 0,
            },
        )
        for n in range(count)
    ]


def _probe_accounts() -> tuple[list[Account], list[HookDoc]]:
    """100 root accounts with the same three hooks each (two ``channel_create``, one ``all``)
    in every table size, so that their ``find`` returns the same result however many other
    hooks are loaded."""
    accts = [Account(id=new_id(), name=f"probe{n}") for n in range(100)]
    docs = [
        HookDoc(
            id=new_id(),
            account_id=account.id,
            doc={"name": f"p{k}", "uri": "http://127.0.0.1:9/p", "hook": event},
        )
        for account in accts
        for k, event in enumerate(("channel_create", "channel_create", "all"))
    ]
    return accts, docs


def _mean_find_us(table: HookTable, account_ids: list[str]) -> float:
    started = time.perf_counter()
    for account_id in account_ids:
        table.find("channel_create", account_id)
    return (time.perf_counter() - started) / len(account_ids) * 1e6


def find_cost_us(count: int, accts: list[Account]) -> tuple[float, float]:
    """Mean time of one ``HookTable.find``: for an event of a random account (its result grows
    with the table: 0.1 hooks per account at 1k, 10 at 100k), and for an account whose result
    is the same three hooks at every size (the cost of the table's size alone)."""
    from webhooksd.records import Hook

    probe_accts, probe_docs = _probe_accounts()
    table = HookTable()
    table.put_accounts([*accts, *probe_accts])
    for doc in [*hook_docs(accts, count), *probe_docs]:
        table.put(Hook.from_doc(doc))
    rng = random.Random(1)
    random_ids = [rng.choice(accts).id for _ in range(50_000)]
    probe_ids = [rng.choice(probe_accts).id for _ in range(50_000)]
    return _mean_find_us(table, random_ids), _mean_find_us(table, probe_ids)


async def seed_store(url: str, accts: list[Account], count: int) -> None:
    async with open_store(url) as store:
        for account in accts:
            await store.create_account(account)
        for doc in hook_docs(accts, count):
            await store.create_hook(doc)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def run() -> dict[str, Any]:
    accts = accounts()
    out: dict[str, Any] = {"find_us": {}, "find_same_result_us": {}}
    for count in (1_000, 10_000, 100_000):
        random_us, same_us = find_cost_us(count, accts)
        out["find_us"][str(count)] = round(random_us, 3)
        out["find_same_result_us"][str(count)] = round(same_us, 3)
    workdir = Path(tempfile.mkdtemp(prefix="webhooksd-scale-"))
    try:
        url = f"sqlite:///{workdir}/scale.sqlite3"
        await seed_store(url, accts, 100_000)
        from webhooksd.children.init import Init
        from webhooksd.config import load
        from webhooksd.runtime.daemon import load_modules
        from webhooksd.runtime.metrics import Metrics

        async with open_store(url) as store:
            table = HookTable()
            init = Init(
                modules=load_modules(load(environ={})),
                ctx=None,  # type: ignore[arg-type]
                store=store,
                table=table,
                metrics=Metrics(),
            )
            started = time.perf_counter()
            await init.load()
            out["load_100k_s"] = round(time.perf_counter() - started, 3)
            out["loaded"] = len(table)
            out["full_gc_pause_ms"] = _full_gc_pause_ms()
        out["rss_100k_mb"] = await daemon_rss(url, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return out


def _full_gc_pause_ms() -> dict[str, float]:
    """One full collection with the table loaded, before and after ``gc.freeze()`` (what the
    daemon does once every child has started)."""
    import gc

    def pause() -> float:
        started = time.perf_counter()
        gc.collect()
        return round((time.perf_counter() - started) * 1000, 1)

    before = pause()
    gc.freeze()
    try:
        return {"before_freeze": before, "after_freeze": pause()}
    finally:
        gc.unfreeze()


async def daemon_rss(store_url: str, workdir: Path) -> dict[str, float]:
    api_port, tag, key = free_port(), uuid.uuid4().hex[:8], secrets.token_hex(32)
    env = daemon_env(workdir, api_port, tag, store_url=store_url)
    env["WEBHOOKSD_AMQP_URL"] = "memory://"
    bootstrap(env, key)
    api = f"http://127.0.0.1:{api_port}"
    async with aiohttp.ClientSession() as http:
        started = time.perf_counter()
        async with process(
            [str(BIN / "webhooksd"), "run"], env, ready=lambda: wait_ready(http, api, timeout=120)
        ) as proc:
            ready_s = time.perf_counter() - started
            return {"rss_mb": round(rss_mb(proc.pid), 1), "start_to_ready_s": round(ready_s, 2)}


async def run_api(duration_s: float = 10.0, rate: float = 500.0) -> dict[str, Any]:
    """Listing at a fixed rate, and creating hooks as fast as 20 clients can."""
    workdir = Path(tempfile.mkdtemp(prefix="webhooksd-api-"))
    api_port, tag, key = free_port(), uuid.uuid4().hex[:8], secrets.token_hex(32)
    env = daemon_env(workdir, api_port, tag)
    env["WEBHOOKSD_AMQP_URL"] = "memory://"
    bootstrap(env, key)
    api = f"http://127.0.0.1:{api_port}"
    try:
        async with (
            aiohttp.ClientSession() as http,
            process([str(BIN / "webhooksd"), "run"], env, ready=lambda: wait_ready(http, api)),
        ):
            token, account = await login(http, api, key)
            base = f"{api}/v2/accounts/{account}/webhooks"
            create = await _closed_loop(http, token, base, 2_000, clients=20)
            # listing is measured on a typical account (20 hooks), not on the 2,000 above
            sub = await api_call(
                http, "PUT", f"{api}/v2/accounts/{account}", token, {"name": "listed"}
            )
            listed = f"{api}/v2/accounts/{sub['data']['id']}/webhooks"
            await _closed_loop(http, token, listed, 20, clients=4)
            listing = await _open_loop(http, token, listed, duration_s, rate)
            return {"create": create, "list": listing, "list_hooks_in_account": 20}
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


async def _closed_loop(
    http: aiohttp.ClientSession, token: str, url: str, total: int, clients: int
) -> dict[str, float]:
    latencies: list[float] = []
    counter = iter(range(total))

    async def client() -> None:
        for n in counter:
            started = time.perf_counter()
            await api_call(
                http,
                "PUT",
                url,
                token,
                {"name": f"h{n}", "hook": "channel_create", "uri": "http://127.0.0.1:9/x"},
            )
            latencies.append((time.perf_counter() - started) * 1000)

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    elapsed = time.perf_counter() - started
    return {
        "requests_per_s": round(total / elapsed, 1),
        "p50_ms": round(percentile(latencies, 50), 2),
        "p99_ms": round(percentile(latencies, 99), 2),
    }


async def _open_loop(
    http: aiohttp.ClientSession, token: str, url: str, duration_s: float, rate: float
) -> dict[str, float]:
    latencies: list[float] = []
    loop = asyncio.get_running_loop()
    t0, total = loop.time(), int(duration_s * rate)

    async def one() -> None:
        started = time.perf_counter()
        await api_call(http, "GET", url + "?page_size=50", token)
        latencies.append((time.perf_counter() - started) * 1000)

    tasks = []
    for n in range(total):
        delay = t0 + n / rate - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one()))
    await asyncio.gather(*tasks)
    elapsed = loop.time() - t0
    return {
        "rate": rate,
        "requests_per_s": round(len(latencies) / elapsed, 1),
        "p50_ms": round(percentile(latencies, 50), 2),
        "p99_ms": round(percentile(latencies, 99), 2),
    }


if __name__ == "__main__":
    print(asyncio.run(run()), file=sys.stderr)
