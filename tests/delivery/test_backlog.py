"""The per-hook bound on jobs in the retry queue."""

from __future__ import annotations

from webhooksd.delivery.backlog import GRACE_S, Backlog


def test_a_hook_at_its_bound_gets_no_more_until_one_comes_back() -> None:
    now = [0.0]
    backlog = Backlog(2, clock=lambda: now[0])
    assert backlog.reserve("h", 1000) and backlog.reserve("h", 1000)
    assert not backlog.reserve("h", 1000)
    assert backlog.reserve("other", 1000)  # hooks are counted apart
    backlog.release("h")
    assert backlog.reserve("h", 1000)
    assert backlog.pending("h") == 2


def test_a_count_lapses_once_every_job_is_due_back() -> None:
    """Jobs consumed by another instance never come back here: once the longest delay and
    the grace period passed, the hook is not blocked any more."""
    now = [0.0]
    backlog = Backlog(1, clock=lambda: now[0])
    assert backlog.reserve("h", 5000)
    now[0] = 5 + GRACE_S - 0.1
    assert not backlog.reserve("h", 5000)
    now[0] = 5 + GRACE_S + 0.1
    assert backlog.reserve("h", 5000)


def test_a_release_never_goes_below_zero() -> None:
    backlog = Backlog(1)
    backlog.release("never-queued")
    assert backlog.pending("never-queued") == 0
    assert backlog.reserve("never-queued", 0)
    assert not backlog.reserve("never-queued", 0)
