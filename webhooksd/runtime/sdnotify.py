"""systemd's notify protocol: one datagram to ``$NOTIFY_SOCKET`` (sd_notify(3)).

A few lines of the standard library instead of a dependency; without ``NOTIFY_SOCKET`` (not
under systemd) every call does nothing.
"""

from __future__ import annotations

import contextlib
import os
import socket


class Notifier:
    def __init__(self, socket_path: str | None = None) -> None:
        path = socket_path if socket_path is not None else os.environ.get("NOTIFY_SOCKET", "")
        # a leading "@" names a socket in the abstract namespace
        self._address = "\0" + path[1:] if path.startswith("@") else path

    @property
    def enabled(self) -> bool:
        return bool(self._address)

    def notify(self, state: str) -> None:
        if not self._address:
            return
        # an error means systemd is gone (e.g. during shutdown): nothing useful to do
        with (
            socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock,
            contextlib.suppress(OSError),
        ):
            sock.sendto(state.encode(), self._address)

    def ready(self, status: str = "") -> None:
        self.notify("READY=1" + (f"\nSTATUS={status}" if status else ""))

    def stopping(self) -> None:
        self.notify("STOPPING=1")

    def watchdog(self) -> None:
        self.notify("WATCHDOG=1")

    @staticmethod
    def watchdog_interval_s() -> float | None:
        """Half the watchdog period systemd asked for, or None when there is no watchdog."""
        usec = os.environ.get("WATCHDOG_USEC", "")
        pid = os.environ.get("WATCHDOG_PID", "")
        if not usec.isdigit() or (pid and pid != str(os.getpid())):
            return None
        return int(usec) / 2_000_000
