"""The `webhooksd` command as an operator uses it: bootstrap, accounts, run, SIGTERM."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.waiting import eventually

BIN = Path(sys.executable).parent / "webhooksd"


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "WEBHOOKSD_STORE_URL": f"sqlite:///{tmp_path}/cli.sqlite3",
        "WEBHOOKSD_AMQP_URL": "memory://",
        "WEBHOOKSD_LOG_LEVEL": "warning",
        **extra,
    }


def _run(args: list[str], env: dict[str, str]) -> dict[str, str]:
    proc = subprocess.run(
        [str(BIN), *args], env=env, capture_output=True, text=True, timeout=60, check=True
    )
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1, proc.stdout
    parsed: dict[str, str] = json.loads(lines[0])
    return parsed


def test_bootstrap_once_then_existing(tmp_path: Path) -> None:
    """bootstrap stores the given key and prints it once; run again it prints only the id."""
    env = _env(tmp_path)
    key = "cd" * 32
    first = _run(["bootstrap", "--api-key", key], env)
    assert first["api_key"] == key and len(first["account_id"]) == 32
    again = _run(["bootstrap"], env)
    assert again == {"account_id": first["account_id"]}


def test_accounts_create_under_a_parent(tmp_path: Path) -> None:
    """accounts create prints a new id and a generated 64-hex key; an unknown parent fails."""
    env = _env(tmp_path)
    master = _run(["bootstrap"], env)
    child = _run(["accounts", "create", "--name", "child", "--parent", master["account_id"]], env)
    assert len(child["account_id"]) == 32 and len(child["api_key"]) == 64
    bad = subprocess.run(
        [str(BIN), "accounts", "create", "--name", "x", "--parent", "f" * 32],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert bad.returncode != 0 and "does not exist" in bad.stderr


def _fails(args: list[str], env: dict[str, str]) -> str:
    proc = subprocess.run(
        [str(BIN), *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode != 0, proc.stdout
    return proc.stderr


def test_accounts_create_with_an_outside_id(tmp_path: Path) -> None:
    """--id keeps a Kazoo account id (fixture-style or hex), under a parent with an outside id;
    the same id twice and a malformed one fail naming the problem."""
    env = _env(tmp_path)
    master_id, reseller_id = "account0000000000000000000000001", "ab" * 16
    master = _run(["accounts", "create", "--name", "master", "--id", master_id], env)
    assert master["account_id"] == master_id and len(master["api_key"]) == 64
    reseller = _run(
        ["accounts", "create", "--name", "r", "--id", reseller_id, "--parent", master_id], env
    )
    assert reseller["account_id"] == reseller_id
    again = ["accounts", "create", "--name", "again", "--id", master_id]
    assert "exists" in _fails(again, env)
    assert "not an account id" in _fails(
        ["accounts", "create", "--name", "x", "--id", "AB" * 16], env
    )
    assert "not an account id" in _fails(
        ["accounts", "create", "--name", "x", "--id", "a" * 31], env
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0


@pytest.mark.slow
def test_run_serves_probes_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    """`run` answers /healthz and /readyz once every child is up, and exits 0 on SIGTERM."""
    port = _free_port()
    env = _env(tmp_path, WEBHOOKSD_API_LISTEN=f"127.0.0.1:{port}")
    proc = subprocess.Popen(
        [str(BIN), "run"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )

    def ready() -> bool:
        if _status(f"http://127.0.0.1:{port}/readyz") == 200:
            return True
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        return False

    try:
        # a sync test, as it drives a child process with blocking calls: eventually() gets a loop
        asyncio.run(eventually(ready, timeout=30, what="/readyz answering 200"))
        assert _status(f"http://127.0.0.1:{port}/healthz") == 200
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stderr:
            proc.stderr.close()
