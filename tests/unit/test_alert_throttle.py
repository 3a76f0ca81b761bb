"""The alerts' rate limit: at most one per hook per interval, the last held one sent at the
end with the count of those it replaced."""

from __future__ import annotations

from dataclasses import replace

from webhooksd.alerts.events import DISABLED, RECOVERED, Alert
from webhooksd.alerts.throttle import Throttle


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _alert(hook_id: str = "h1", kind: str = DISABLED, at_ms: int = 0) -> Alert:
    return Alert(
        type=DISABLED if kind == DISABLED else RECOVERED,
        account_id="a",
        hook_id=hook_id,
        hook_name="n",
        reason="r",
        failures=6,
        at_ms=at_ms,
    )


def test_first_alert_goes_at_once_and_other_hooks_are_not_held() -> None:
    clock = Clock()
    throttle = Throttle(60, clock)
    first = _alert()
    assert throttle.offer(first) == first
    assert throttle.offer(_alert("h2")) is not None
    assert throttle.next_due_s() is None and throttle.due() == []


def test_flapping_sends_the_last_state_with_the_count_replaced() -> None:
    """1,000 flaps in one interval: one alert now, one at the end saying 998 were not sent."""
    clock = Clock()
    throttle = Throttle(60, clock)
    assert throttle.offer(_alert(at_ms=0)) is not None
    for n in range(1, 1000):
        clock.now += 0.01
        kind = RECOVERED if n % 2 else DISABLED
        assert throttle.offer(_alert(kind=kind, at_ms=n)) is None
    assert throttle.due() == []
    due_in = throttle.next_due_s()
    assert due_in is not None and 49 < due_in < 50.1
    clock.now += due_in
    (held,) = throttle.due()
    assert held == replace(_alert(kind=RECOVERED, at_ms=999), suppressed=998)
    # the one sent at the end opens the next interval
    assert throttle.offer(_alert(at_ms=1000)) is None
    clock.now += 60
    (next_one,) = throttle.due()
    assert next_one.at_ms == 1000 and next_one.suppressed == 0


def test_a_quiet_interval_lets_the_next_alert_through() -> None:
    clock = Clock()
    throttle = Throttle(60, clock)
    throttle.offer(_alert())
    clock.now += 61
    assert throttle.due() == []
    assert throttle.offer(_alert(at_ms=5)) is not None
