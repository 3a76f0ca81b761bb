"""systemd's notify protocol against a real datagram socket."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from webhooksd.runtime.sdnotify import Notifier


def test_ready_watchdog_stopping_reach_the_socket(tmp_path: Path) -> None:
    """READY (with STATUS), WATCHDOG and STOPPING arrive as datagrams at NOTIFY_SOCKET."""
    path = str(tmp_path / "notify.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.bind(path)
        server.settimeout(2)
        notifier = Notifier(path)
        notifier.ready("3 hooks loaded")
        notifier.watchdog()
        notifier.stopping()
        got = [server.recv(1024).decode() for _ in range(3)]
    assert got == ["READY=1\nSTATUS=3 hooks loaded", "WATCHDOG=1", "STOPPING=1"]


def test_without_systemd_nothing_happens() -> None:
    """With no NOTIFY_SOCKET the notifier is off and silent."""
    notifier = Notifier("")
    assert not notifier.enabled
    notifier.ready()


def test_watchdog_interval_is_half_the_period(monkeypatch: pytest.MonkeyPatch) -> None:
    """WATCHDOG_USEC=30 s means a ping every 15 s; another process's watchdog is ignored."""
    monkeypatch.setenv("WATCHDOG_USEC", "30000000")
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    assert Notifier.watchdog_interval_s() == 15.0
    monkeypatch.setenv("WATCHDOG_PID", "1")
    assert Notifier.watchdog_interval_s() is None
