"""At most one alert per hook per interval.

The first alert of a hook is sent at once and opens an interval; alerts within it are held,
each replacing the one held before, and the last is sent when the interval ends, carrying
the count of those it replaced; that one opens the next interval. So a hook flapping without
end sends one alert an interval, not one a flap, and the account still ends up told the
hook's latest state.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from webhooksd.alerts.events import Alert


@dataclass(slots=True)
class _Window:
    until: float
    held: Alert | None = None
    #: alerts not sent in this interval besides the one held
    replaced: int = 0


class Throttle:
    def __init__(self, interval_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._interval_s = interval_s
        self._clock = clock
        #: only hooks that alerted in the last interval: alerts are rare, and each window is
        #: dropped once its interval is over and nothing is held
        self._windows: dict[str, _Window] = {}

    def offer(self, alert: Alert) -> Alert | None:
        """The alert to send now, or None when it is held for the end of the interval."""
        now = self._clock()
        window = self._windows.get(alert.hook_id)
        if window is None or (now >= window.until and window.held is None):
            self._windows[alert.hook_id] = _Window(until=now + self._interval_s)
            return alert
        if window.held is not None:
            window.replaced += 1
        window.held = alert
        return None

    def due(self) -> list[Alert]:
        """The held alerts whose interval is over (each opens the next interval)."""
        now = self._clock()
        sent: list[Alert] = []
        for hook_id, window in list(self._windows.items()):
            if now < window.until:
                continue
            if window.held is None:
                del self._windows[hook_id]
                continue
            sent.append(replace(window.held, suppressed=window.held.suppressed + window.replaced))
            self._windows[hook_id] = _Window(until=now + self._interval_s)
        return sent

    def next_due_s(self) -> float | None:
        """Seconds until the first held alert is due; None when none is held."""
        ends = [w.until for w in self._windows.values() if w.held is not None]
        return max(0.0, min(ends) - self._clock()) if ends else None
