"""Conformance: hook-module metadata and settings, on every backend."""

from __future__ import annotations

import asyncio

import pytest

from webhooksd.store import SYSTEM, Store, open_store


async def test_module_meta_writes_only_changes(store: Store) -> None:
    """put_module_meta writes a new or changed value and reports an equal one as unchanged."""
    meta = {"name": "Channel create", "modifiers": {"a": [1, 2]}, "description": "x"}
    assert await store.put_module_meta("webhooks_channel_create", meta) is True
    reordered = dict(reversed(list(meta.items())))
    assert await store.put_module_meta("webhooks_channel_create", reordered) is False
    changed = {**meta, "description": "y"}
    assert await store.put_module_meta("webhooks_channel_create", changed) is True
    assert await store.put_module_meta("webhooks_object", {"name": "Object"}) is True
    assert await store.list_module_meta() == {
        "webhooks_channel_create": changed,
        "webhooks_object": {"name": "Object"},
    }


async def test_delete_module_meta(store: Store) -> None:
    """Deleting metadata reports whether there was any."""
    await store.put_module_meta("m", {"name": "M"})
    assert await store.delete_module_meta("m") is True
    assert await store.delete_module_meta("m") is False
    assert await store.list_module_meta() == {}
    assert await store.put_module_meta("m", {"name": "M"}) is True


@pytest.mark.parametrize(
    "value", [{"nested": {"list": [1, "two", None]}}, [1, 2], "text", 7, 2.5, True, None]
)
async def test_settings_round_trip_json(store: Store, value: object) -> None:
    """Any JSON value can be a setting, and set_setting overwrites."""
    await store.set_setting(SYSTEM, "k", "old")
    await store.set_setting(SYSTEM, "k", value)
    assert await store.get_settings(SYSTEM) == {"k": value}
    assert await store.setdefault_setting(SYSTEM, "k", "ignored") == value


async def test_settings_scopes_are_separate(store: Store) -> None:
    """Each scope has its own keys."""
    await store.set_setting(SYSTEM, "attempt_expiry_s", 60)
    await store.set_setting("a1", "attempt_expiry_s", 30)
    await store.set_setting("a1", "failures", 6)
    assert await store.get_settings(SYSTEM) == {"attempt_expiry_s": 60}
    assert await store.get_settings("a1") == {"attempt_expiry_s": 30, "failures": 6}
    assert await store.get_settings("a2") == {}


async def test_setdefault_first_writer_wins(store: Store) -> None:
    """setdefault stores the first value and returns it to every later caller."""
    assert await store.setdefault_setting(SYSTEM, "cluster_id", "first") == "first"
    assert await store.setdefault_setting(SYSTEM, "cluster_id", "second") == "first"
    assert await store.get_settings(SYSTEM) == {"cluster_id": "first"}


async def test_setdefault_concurrent_one_store(store: Store) -> None:
    """Concurrent setdefaults on one store all see the same single winner."""
    results = await asyncio.gather(
        *(store.setdefault_setting(SYSTEM, "race", f"v{n}") for n in range(10))
    )
    assert len(set(results)) == 1
    assert (await store.get_settings(SYSTEM))["race"] == results[0]


async def test_setdefault_concurrent_two_instances(store_url: str) -> None:
    """Two store instances racing on one key agree on the winner (as two daemons would)."""
    async with open_store(store_url) as one, open_store(store_url) as two:
        for round_ in range(5):
            key = f"race-{round_}"
            results = await asyncio.gather(
                one.setdefault_setting(SYSTEM, key, "one"),
                two.setdefault_setting(SYSTEM, key, "two"),
            )
            assert results[0] == results[1]
            assert (await two.get_settings(SYSTEM))[key] == results[0]


async def test_take_setting_deletes_and_returns(store: Store) -> None:
    """take_setting returns the value once and deletes it; a missing key is None."""
    await store.set_setting("a1", "marker", {"reason": "gone"})
    await store.set_setting("a1", "other", 1)
    assert await store.take_setting("a1", "marker") == {"reason": "gone"}
    assert await store.take_setting("a1", "marker") is None
    assert await store.take_setting("a2", "other") is None
    assert await store.get_settings("a1") == {"other": 1}


async def test_take_setting_two_instances_one_winner(store_url: str) -> None:
    """Two store instances taking one key: exactly one gets the value (one alert is sent)."""
    async with open_store(store_url) as one, open_store(store_url) as two:
        for round_ in range(5):
            key = f"take-{round_}"
            await one.set_setting(SYSTEM, key, round_)
            results = await asyncio.gather(
                one.take_setting(SYSTEM, key), two.take_setting(SYSTEM, key)
            )
            assert sorted(results, key=lambda r: r is None) == [round_, None]
