"""``workers``: the setting's bounds and each worker's environment (the processes
themselves: tests/integration/test_workers.py)."""

from __future__ import annotations

import pytest

from webhooksd.config import load
from webhooksd.errors import ConfigError
from webhooksd.runtime.workers import WORKER_ENV, worker_environment


@pytest.mark.parametrize("workers", ["0", "65", "-1"])
def test_workers_out_of_bounds_is_refused(workers: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load(environ={"WEBHOOKSD_WORKERS": workers})
    assert caught.value.setting == "workers"


def test_worker_ports_must_fit() -> None:
    with pytest.raises(ConfigError):
        load(environ={"WEBHOOKSD_WORKERS": "3", "WEBHOOKSD_API_LISTEN": "127.0.0.1:65534"})
    assert load(environ={"WEBHOOKSD_WORKERS": "2"}).workers == 2


def test_each_worker_is_its_own_node_on_its_own_port(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WATCHDOG_USEC", raising=False)
    settings = load(environ={}).replace(workers=2, node_name="n1", api_listen="[::1]:8000")
    env = worker_environment(settings, 1, "@sock", {"PATH": "/bin", "WATCHDOG_PID": "7"})
    assert env["WEBHOOKSD_NODE_NAME"] == "n1-w1"
    assert env["WEBHOOKSD_API_LISTEN"] == "[::1]:8001"
    assert env["WEBHOOKSD_WORKERS"] == "1"  # a worker starts no workers of its own
    assert env["NOTIFY_SOCKET"] == "@sock" and env[WORKER_ENV] == "1"
    assert env["PATH"] == "/bin" and "WATCHDOG_PID" not in env and "WATCHDOG_USEC" not in env


def test_a_worker_pets_the_parent_at_the_parents_period(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WATCHDOG_USEC", "30000000")
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    settings = load(environ={}).replace(workers=2)
    env = worker_environment(settings, 0, "@s", {})
    assert env["WATCHDOG_USEC"] == "30000000" and "WATCHDOG_PID" not in env
