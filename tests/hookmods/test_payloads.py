"""The JSON value helpers (Kazoo kz_json/kz_term accessors) hook modules share."""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

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
from webhooksd.records import Hook, HookDoc

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
    [
        *[(6, 6), ("6", 6), (5.6, 6), ("5.4", 5), ("x", None), (True, None), (None, None)],
        *[(2.5, 3), (-2.5, -3), (0.5, 1), ("10.5", 11), ("-10.5", -11), ("+4", 4)],
        *[("1.5e1", 15), (3.5, 4), (0.49999999999999994, 0), ("1e5", None), (" 7", None)],
        *[("7.", None), (".5", None), ("nan", None), ("inf", None), ("1.0e400", None)],
        ([49], None),
    ],
)
def test_to_int(value: Any, expected: int | None) -> None:
    """kz_term:to_integer: halves round away from zero (Erlang's round/1), strings only as
    Erlang integer or float literals; the rest None."""
    assert to_int(value) == expected


@given(st.floats(allow_nan=False, allow_infinity=False, min_value=-1e15, max_value=1e15))
def test_to_int_rounds_like_erlang(value: float) -> None:
    """round/1 on the exact value: the nearest integer, a tie away from zero."""
    below = math.floor(value)
    gap = Fraction(value) - below
    expected = below + 1 if gap > Fraction(1, 2) or (gap == Fraction(1, 2) and value > 0) else below
    assert to_int(value) == expected
    if "e" not in repr(value):  # "1.5" is an Erlang float literal, "1e+16" is not
        assert to_int(repr(value)) == expected


@pytest.mark.parametrize(("stored", "expected"), [(2.5, 3), ("3.5", 4), ("x", 2), (9, 4), (-1, 0)])
def test_stored_retries_are_read_as_kazoo_reads_them(stored: Any, expected: int) -> None:
    """kzd_webhooks:retries/1 reads the field with get_integer_value, then clamps it."""
    doc = {"name": "n", "uri": "http://x/", "hook": "all", "retries": stored}
    assert Hook.from_doc(HookDoc(id="h" * 32, account_id=ACCOUNT, doc=doc)).retries == expected


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


def _normalize_key_by_char(key: str) -> str:
    """``kz_json:normalize_key`` as Kazoo writes it: one character at a time."""
    latin1_upper = {chr(c) for c in (*range(0xC0, 0xD7), *range(0xD8, 0xDF))}
    return "".join(
        "_" if c == "-" else c.lower() if "A" <= c <= "Z" or c in latin1_upper else c for c in key
    )


@given(st.text(alphabet=st.characters(max_codepoint=0x2000)) | st.text(max_size=8))
def test_normalize_key_is_the_character_rule(key: str) -> None:
    """The ASCII fast path and the table agree with the rule a character at a time, other
    scripts' capitals (Greek, the Turkish dotted I) left as they are."""
    assert normalize_key(key) == _normalize_key_by_char(key)


@pytest.mark.parametrize("key", ["Caller-ID-Name", "\u0130D-\u0391\u00c9", "a-\u00d7-Z", ""])
def test_normalize_key_examples(key: str) -> None:
    assert normalize_key(key) == _normalize_key_by_char(key)


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
