"""Filter regexes run in linear time (RE2): a hostile value cannot freeze the event loop, and
what RE2 cannot express is refused when the hook is saved, naming the field."""

from __future__ import annotations

import time
from typing import Any

import pytest

from webhooksd.transforms import TransformError, compile_hook_transforms
from webhooksd.transforms.filters import MAX_MATCH_CHARS, MAX_PROGRAM_SIZE
from webhooksd.transforms.regex import compile_linear

#: catastrophic backtracking in a backtracking engine: each extra character doubles the time
EVIL = "^(a+)+$"
#: any caller chooses their caller-ID name; 27 characters froze Python's ``re`` for 7 s
HOSTILE = "a" * 40 + "!"

#: a generous bound: RE2 takes microseconds here, a backtracking engine takes hours
BOUND_S = 1.0


def _decide(filter_value: Any, payload: dict[str, Any]) -> tuple[bool, float]:
    transforms = compile_hook_transforms({"filter": filter_value})
    started = time.perf_counter()
    matched = transforms.matches(payload)
    return matched, time.perf_counter() - started


@pytest.mark.parametrize(
    "filter_value",
    [
        [{"field": "caller_id_name", "regex": EVIL}],
        {"caller_id_name": {"operation": "reg", "value": f"/{EVIL}/i"}},
        [{"field": "caller_id_name", "regex": "(a|aa)+$"}, {"field": "x", "exists": False}],
        [{"field": "caller_id_name", "regex": "(.*a){12}!?z"}],
    ],
)
def test_hostile_value_is_decided_quickly(filter_value: Any) -> None:
    """The delivery decision on an evil pattern and a 41-character value takes well under a
    second, and still gives the right answer."""
    matched, elapsed = _decide(filter_value, {"caller_id_name": HOSTILE})
    assert elapsed < BOUND_S, f"{elapsed:.2f} s"
    assert matched is False


def test_evil_pattern_still_matches_what_it_should() -> None:
    """The same pattern matches the values it describes."""
    assert _decide([{"field": "n", "regex": EVIL}], {"n": "a" * 4000})[0] is True
    assert _decide([{"field": "n", "regex": EVIL}], {"n": "aab"})[0] is False


def test_most_complex_filter_at_longest_value_is_bounded() -> None:
    """The worst filter the limits allow (RE2 falling back to its NFA on a pattern that
    defeats its DFA, at the largest program size) against the longest value matched."""
    pattern = "|".join(f"[ab]*a[ab]{{{n}}}c" for n in range(40, 52))
    assert MAX_PROGRAM_SIZE / 2 < compile_linear(pattern).program_size <= MAX_PROGRAM_SIZE
    compiled = compile_hook_transforms({"filter": [{"field": "v", "regex": pattern}]})
    value = ("ab" * MAX_MATCH_CHARS)[:MAX_MATCH_CHARS]
    started = time.perf_counter()
    assert compiled.matches({"v": value}) is False
    assert time.perf_counter() - started < BOUND_S


def test_value_longer_than_the_bound_does_not_match() -> None:
    """Only values up to MAX_MATCH_CHARS are searched: a longer one never matches a regex."""
    condition = [{"field": "v", "regex": "a"}]
    assert _decide(condition, {"v": "a" * MAX_MATCH_CHARS})[0] is True
    assert _decide(condition, {"v": "a" * (MAX_MATCH_CHARS + 1)})[0] is False


UNSUPPORTED: list[tuple[Any, str]] = [
    ([{"field": "a", "regex": "(a)\\1"}], "filter.0.regex"),
    ([{"field": "a", "regex": "foo(?=bar)"}], "filter.0.regex"),
    ([{"field": "a", "regex": "(?!x)y"}], "filter.0.regex"),
    ([{"field": "a", "regex": "(?<=a)b"}], "filter.0.regex"),
    ([{"field": "a", "eq": 1, "regex": "(?<!a)b"}], "filter.0.regex"),
    ({"a": {"operation": "reg", "value": "/(a)\\1/i"}}, "filter.a.value"),
    ({"a": {"operation": "reg", "value": "(?=a)"}}, "filter.a.value"),
]


@pytest.mark.parametrize(("filter_value", "field"), UNSUPPORTED)
def test_unsupported_pattern_is_refused(filter_value: Any, field: str) -> None:
    """Backreferences and lookaround need backtracking: refused, naming the field."""
    with pytest.raises(TransformError) as caught:
        compile_hook_transforms({"filter": filter_value})
    assert caught.value.field == field
    assert "RE2" in caught.value.message


def test_too_complex_filter_is_refused() -> None:
    """The regexes of one filter share one program-size budget (it bounds matching time)."""
    big = "[a-z]{200}"
    one = [{"field": "a", "regex": big}]
    compile_hook_transforms({"filter": one})
    many = [{"field": f"f{i}", "regex": big} for i in range(MAX_PROGRAM_SIZE // 200 + 1)]
    with pytest.raises(TransformError) as caught:
        compile_hook_transforms({"filter": many})
    assert caught.value.field == "filter"
    assert "too complex" in caught.value.message


@pytest.mark.parametrize(
    ("pattern", "value", "expected"),
    [
        ("(?i)^INBOUND$", "inbound", True),
        ("^\\+44\\d+$", "+441234", True),
        ("\\bfoo\\b", "a foo b", True),
        ("(?P<cc>\\+\\d{2})", "+44", True),
        ("^a.b$", "a\nb", False),
        ("(?s)^a.b$", "a\nb", True),
        ("(?m)^b$", "a\nb", True),
        ("é", "café", True),
        ("(?i)CAFÉ", "café", True),
        # RE2's \d is ASCII (Python's str \d is any Unicode digit): documented
        ("^\\d$", "\u0663", False),
    ],
)
def test_re2_semantics(pattern: str, value: str, expected: bool) -> None:
    """Search anywhere in the value, inline flags, Unicode text; ``\\d`` is ASCII."""
    assert _decide([{"field": "v", "regex": pattern}], {"v": value})[0] is expected
