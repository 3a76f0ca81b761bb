"""``json_body`` prints through orjson and widens its separators where that is provably
enough; this compares it byte for byte with the value-by-value printer (``jiffy_pretty``, the
one ``test_kazoo_encoding`` checks against Kazoo's rules) on random JSON made to hit the
traps: quotes, ``": "`` and `` ": `` inside keys and values, empty containers as values and
inside strings, control characters, floats, huge integers, lone surrogates."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from webhooksd.delivery.encoding import jiffy_pretty, json_body

#: characters that the fast path must notice, or is tempted to misread
_TRAPS = st.sampled_from(['"', ": ", ' ": ', '": ', "{}", "[]", "\\", "\x1f", "\n", "\t", "é"])
_TEXT = st.lists(st.one_of(_TRAPS, st.text(max_size=4)), max_size=4).map("".join)
_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    _TEXT,
)
_JSON: st.SearchStrategy[Any] = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(_TEXT, inner, max_size=4)),
    max_leaves=20,
)


@settings(max_examples=1500, deadline=None)
@given(st.dictionaries(_TEXT, _JSON, max_size=6))
@example({"a": ": b", "c": {"d": []}})
@example({": x": 1, "k ": {"": [1, "\ud800"]}})
@example({"v": "x\\", "w": 'say "hi"', "n": 2**64})
@example({"s": "[]", "l": [], "d": {"e": [{}, []]}})
@example({"s": "{}", "d": {}, "l": [[], {"x": []}]})
@example({"t": (1, []), "f": [0.5, {}]})
def test_same_bytes_as_the_value_by_value_printer(payload: dict[str, Any]) -> None:
    assert json_body(payload) == jiffy_pretty(payload)


def test_a_kazoo_payload_takes_the_fast_path_and_keeps_jiffys_layout() -> None:
    payload = {"call_id": "a: {}", "ccvs": {"k": "v", "e": {}}, "n": [1, [], "x.y"]}
    assert json_body(payload) == (
        b'{\n  "call_id" : "a: {}",\n  "ccvs" : {\n    "k" : "v",\n    "e" : {\n      \n    }\n'
        b'  },\n  "n" : [\n    1,\n    [\n      \n    ],\n    "x.y"\n  ]\n}'
    )
    assert json_body({}) == b"{\n  \n}"


@pytest.mark.parametrize(
    "payload",
    [
        {"ccvs": {}, "cav": {}},
        {"a": [], "b": {"c": [[]]}},
        {"a": [{}, []], "b": {"c": {}}, "d": [1, [], "{}"]},
        {"in": "{}", "empty": {}},
        {"in": "[]{}", "empty": [], "also": {}},
    ],
)
def test_empty_containers_at_every_depth(payload: dict[str, Any]) -> None:
    """Each empty dict and list gets jiffy's two line breaks at its own depth, whether or not
    a string holds brackets that look like one."""
    assert json_body(payload) == jiffy_pretty(payload)
