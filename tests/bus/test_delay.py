"""The delay-bucket rounding rule of the RabbitMQ bus."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from webhooksd.bus._delay import STEP, bucket_arguments, bucket_ms

DAY_MS = 86_400_000


@given(st.integers(min_value=1, max_value=DAY_MS))
def test_bucket_never_early_and_at_most_one_step_late(delay_ms: int) -> None:
    """A delay is rounded up, by less than one step (plus a millisecond)."""
    bucket = bucket_ms(delay_ms)
    assert delay_ms <= bucket <= delay_ms * STEP + 1


def test_buckets_are_few_and_monotonic() -> None:
    """Longer delays never get shorter buckets, and a day needs fewer than 200 buckets."""
    buckets = [bucket_ms(d) for d in range(20_000)] + [
        bucket_ms(d) for d in range(20_000, DAY_MS, 9_973)
    ]
    assert buckets == sorted(buckets)
    assert len(set(buckets)) < 200
    assert bucket_ms(0) == 0


def test_bucket_outlives_its_messages() -> None:
    """A bucket's idle expiry is longer than the time its messages wait in it."""
    arguments = bucket_arguments("target", 5_000)
    assert arguments["x-expires"] > arguments["x-message-ttl"] == 5_000
    assert (arguments["x-dead-letter-exchange"], arguments["x-dead-letter-routing-key"]) == (
        "",
        "target",
    )
