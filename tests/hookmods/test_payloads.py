"""The JSON value helpers (Kazoo kz_json/kz_term accessors) hook modules share."""

from __future__ import annotations

from typing import Any

import pytest

from webhooksd.kazoo.payloads import (
    first_defined,
    from_pairs,
    hook_custom_data,
    is_true,
    ne_str,
    normalize,
    normalize_key,
    to_int,
    to_number,
)
from webhooksd.records import Hook

from .helpers import ACCOUNT, hook


@pytest.mark.parametrize(
    ("value", "expected"),
    [("x", "x"), ("", None), (None, None), (5, "5"), (True, "true"), ({"a": 1}, None), ([], None)],
)
def test_ne_str(value: Any, expected: str | None) -> None:
    """Non-empty strings pass, numbers and booleans are cast, everything else is None."""
    assert ne_str(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [(6, 6), ("6", 6), (5.6, 6), ("5.4", 5), ("x", None), (True, None), (None, None)],
)
def test_to_int(value: Any, expected: int | None) -> None:
    """Integers, floats and numeric strings become ints; the rest None."""
    assert to_int(value) == expected


def test_to_number_and_is_true() -> None:
    """Numbers stay numbers, numeric strings are parsed; only true/"true" are true."""
    assert (to_number("2"), to_number("0.5"), to_number(1.5), to_number("no")) == (
        2,
        0.5,
        1.5,
        None,
    )
    assert [is_true(v) for v in (True, "true", "TRUE", 1, "yes", None)] == [
        True,
        True,
        False,
        False,
        False,
        False,
    ]


def test_first_defined_and_from_pairs() -> None:
    """first_defined skips absent and null paths; from_pairs drops None values, keeps order."""
    body = {"a": None, "b": {"c": 0}}
    assert first_defined(body, ["a", ("b", "x"), ("b", "c")]) == 0
    assert first_defined(body, ["z"]) is None
    assert list(from_pairs([("x", 1), ("y", None), ("z", False)])) == ["x", "z"]


def test_normalize_key_and_collisions() -> None:
    """Keys lose dashes and capitals; a later key normalising to an earlier one wins."""
    assert normalize_key("Custom-Channel-Vars") == "custom_channel_vars"
    assert normalize_key("\u00c0\u00d6\u00d8\u00de\u00d7") == "\u00e0\u00f6\u00f8\u00fe\u00d7"
    assert normalize({"Account-ID": "a", "account_id": "b"}) == {"account_id": "b"}


def test_hook_custom_data_distinguishes_absent_from_empty() -> None:
    """Absent or null custom_data is None; an empty object stays an (empty) object."""
    assert hook_custom_data(hook("a", ACCOUNT, "object")) is None
    assert hook_custom_data(hook("b", ACCOUNT, "object", custom_data=None)) is None
    assert hook_custom_data(hook("c", ACCOUNT, "object", custom_data={})) == {}
    bare = Hook(id="d", account_id=ACCOUNT, name="d", uri="u", hook="object", custom_data={"x": 1})
    assert hook_custom_data(bare) == {"x": 1}
