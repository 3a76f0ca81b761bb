"""The Kazoo accounts mirror's first full read: 10,000 Kazoo-shaped accounts from a real
CouchDB-compatible server (pouchdb-server, in memory) into the SQLite store.

    python -m bench.kazoo_accounts [--accounts 10000] [--amqp amqp://guest:guest@host:5672/]

The accounts are written with ``_bulk_docs`` first; the read is then measured in a fresh
process (so its resident memory is the mirror's, not the loader's): seconds from the first
request to the checkpoint, and the process's peak and final resident memory. The change
notices go to the in-process bus unless ``--amqp`` names a broker (then they are published to
its ``configuration`` exchange, confirmed, as a daemon does).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from webhooksd.bus import open_bus
from webhooksd.children.kazoo_accounts import KazooAccounts
from webhooksd.kazoo.couch import Couch
from webhooksd.runtime.metrics import Metrics
from webhooksd.store import open_store

MASTER = "0" * 31 + "1"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def kazoo_account(account_id: str, n: int, tree: list[str], *, reseller: bool) -> dict[str, Any]:
    """A Kazoo account document with the fields and size of Kazoo's fixture accounts."""
    return {
        "_id": account_id,
        "name": f"Account {n}",
        "realm": f"a{n}.sip.example.com",
        "timezone": "America/Los_Angeles",
        "language": "en-US",
        "enabled": True,
        "is_reseller": reseller,
        "caller_id": {
            kind: {"name": f"account-{kind}-name", "number": f"+1555{n:07d}"}
            for kind in ("emergency", "external", "internal")
        },
        "call_restriction": {
            k: {"action": "deny"}
            for k in ("caribbean", "did_us", "emergency", "international", "toll_us")
        },
        "music_on_hold": {"media_id": secrets.token_hex(16)},
        "notifications": {"low_balance": {"enabled": True, "sent_low_balance": False}},
        "topup": {"amount": 10, "threshold": 5},
        "pvt_type": "account",
        "pvt_vsn": "1",
        "pvt_account_id": account_id,
        "pvt_account_db": f"account%2F{account_id[:2]}%2F{account_id[2:4]}%2F{account_id[4:]}",
        "pvt_tree": tree,
        "pvt_api_key": secrets.token_hex(32),
        "pvt_enabled": True,
        "pvt_reseller": reseller,
        "pvt_reseller_id": tree[-1] if tree else account_id,
        "pvt_created": 63636183145 + n,
        "pvt_modified": 63667898685 + n,
        "pvt_whitelabel_domain": "example.com",
    }


def tree_of(count: int) -> list[dict[str, Any]]:
    """A master, 100 resellers under it, the rest customers spread over the resellers."""
    docs = [kazoo_account(MASTER, 0, [], reseller=True)]
    resellers = [secrets.token_hex(16) for _ in range(min(100, count - 1))]
    for n, rid in enumerate(resellers, 1):
        docs.append(kazoo_account(rid, n, [MASTER], reseller=True))
    for n in range(len(docs), count):
        parent = resellers[n % len(resellers)]
        docs.append(kazoo_account(secrets.token_hex(16), n, [MASTER, parent], reseller=False))
    return docs


async def load(url: str, count: int) -> None:
    async with aiohttp.ClientSession() as http:
        for db in ("accounts", "system_config"):
            async with http.put(f"{url}/{db}") as resp:
                assert resp.status in (201, 412), resp.status
        master = {"_id": "accounts", "default": {"master_account_id": MASTER}}
        async with http.put(f"{url}/system_config/accounts", json=master) as resp:
            assert resp.status == 201, resp.status
        docs = tree_of(count)
        for start in range(0, len(docs), 1000):
            batch = {"docs": docs[start : start + 1000]}
            async with http.post(f"{url}/accounts/_bulk_docs", json=batch) as resp:
                assert resp.status == 201, await resp.text()


def _rss_kb() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


async def measure(url: str, store_url: str, amqp_url: str) -> dict[str, Any]:
    """One first full read, in this process."""
    before_kb = _rss_kb()
    async with open_store(store_url) as store, open_bus(amqp_url) as bus:
        mirror = KazooAccounts(url=url, store=store, bus=bus, metrics=Metrics(), node="bench")
        started = time.perf_counter()
        async with Couch.open(url) as couch:
            await mirror.full_read(couch)
        seconds = time.perf_counter() - started
        stored = len(await store.list_accounts())
    return {
        "accounts": stored,
        "docs_read": mirror.docs_read,
        "seconds": round(seconds, 2),
        "rss_before_mb": round(before_kb / 1024, 1),
        "rss_after_mb": round(_rss_kb() / 1024, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


async def main(count: int, amqp_url: str) -> None:
    command = shutil.which("pouchdb-server")
    if command is None:
        sys.exit("pouchdb-server is not installed (npm install -g pouchdb-server@4.2.0)")
    with tempfile.TemporaryDirectory(prefix="webhooksd-bench-") as tmp:
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(
            [command, "--in-memory", "--port", str(port), "--host", "127.0.0.1"],
            cwd=tmp,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            await _wait_up(url)
            loaded = time.perf_counter()
            await load(url, count)
            print(f"wrote {count} accounts in {time.perf_counter() - loaded:.1f} s", flush=True)
            store_url = f"sqlite:///{Path(tmp) / 'bench.sqlite3'}"
            result = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "bench.kazoo_accounts",
                    "--measure",
                    url,
                    store_url,
                    amqp_url,
                ],
                capture_output=True,
                text=True,
                check=True,
                env={**os.environ, "WEBHOOKSD_LOG_LEVEL": "warning"},
            )
            print(result.stdout.strip().splitlines()[-1])
        finally:
            server.terminate()
            server.wait()


async def _wait_up(url: str) -> None:
    async with aiohttp.ClientSession() as http:
        for _ in range(300):
            try:
                async with http.get(url) as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise SystemExit("pouchdb-server did not answer")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--amqp", default="memory://", help="publish the notices here")
    parser.add_argument("--measure", nargs=3, metavar=("COUCH_URL", "STORE_URL", "AMQP_URL"))
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(asyncio.run(measure(*args.measure))))
    else:
        asyncio.run(main(args.accounts, args.amqp))
