"""Filter conditions, ours and Webitel's, against payloads."""

from __future__ import annotations

from typing import Any

import pytest

from webhooksd.transforms import compile_hook_transforms

PAYLOAD: dict[str, Any] = {
    "call_direction": "inbound",
    "caller_id_number": "+441234567",
    "duration_seconds": "42",
    "billing_seconds": 40,
    "answered": True,
    "hangup_cause": "NORMAL_CLEARING",
    "custom_channel_vars": {"owner_id": "u1", "tags": ["a", "b"]},
    "legs": [{"id": "L0"}],
    "empty": None,
}


def _matches(filter_value: Any, payload: dict[str, Any] = PAYLOAD) -> bool:
    return compile_hook_transforms({"filter": filter_value}).matches(payload)


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ({"field": "call_direction", "eq": "inbound"}, True),
        ({"field": "call_direction", "eq": "outbound"}, False),
        ({"field": "call_direction", "ne": "outbound"}, True),
        ({"field": "missing", "ne": "x"}, True),
        ({"field": "missing", "eq": "x"}, False),
        ({"field": "duration_seconds", "eq": 42}, True),
        ({"field": "billing_seconds", "eq": "40"}, False),
        ({"field": "billing_seconds", "eq": 40.0}, True),
        ({"field": "answered", "eq": True}, True),
        ({"field": "answered", "eq": 1}, False),
        ({"field": "hangup_cause", "in": ["NORMAL_CLEARING", "NO_ANSWER"]}, True),
        ({"field": "hangup_cause", "in": ["NO_ANSWER"]}, False),
        ({"field": "hangup_cause", "not_in": ["NO_ANSWER"]}, True),
        ({"field": "missing", "not_in": ["NO_ANSWER"]}, True),
        ({"field": "missing", "in": ["x"]}, False),
        ({"field": "duration_seconds", "gt": 41}, True),
        ({"field": "duration_seconds", "gt": 42}, False),
        ({"field": "duration_seconds", "gte": 42, "lt": 43}, True),
        ({"field": "duration_seconds", "gte": 10, "lt": 42}, False),
        ({"field": "billing_seconds", "lte": "40"}, True),
        ({"field": "call_direction", "lt": "outbound"}, True),
        ({"field": "call_direction", "gt": 3}, False),
        ({"field": "missing", "lt": 3}, False),
        ({"field": "caller_id_number", "regex": "^\\+44"}, True),
        ({"field": "caller_id_number", "regex": "^\\+1"}, False),
        ({"field": "call_direction", "regex": "(?i)^INBOUND$"}, True),
        ({"field": "billing_seconds", "regex": "^4\\d$"}, True),
        ({"field": "custom_channel_vars", "regex": "u1"}, False),
        ({"field": "custom_channel_vars.owner_id", "exists": True}, True),
        ({"field": "custom_channel_vars.nobody", "exists": False}, True),
        ({"field": "empty", "exists": True}, False),
        ({"field": "legs.0.id", "eq": "L0"}, True),
        ({"field": "custom_channel_vars.tags.1", "eq": "b"}, True),
    ],
)
def test_native_condition(condition: dict[str, Any], expected: bool) -> None:
    """Each operator decides as documented (numbers loose, missing fields, paths)."""
    assert _matches([condition]) is expected


def test_all_conditions_must_hold() -> None:
    """A filter matches only when every condition holds; no conditions always match."""
    ok = {"field": "call_direction", "eq": "inbound"}
    bad = {"field": "hangup_cause", "eq": "NO_ANSWER"}
    assert _matches([ok, ok])
    assert not _matches([ok, bad])
    assert _matches([])
    assert _matches({})
    assert _matches(None)


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ({"operation": "==", "value": "inbound"}, True),
        ({"operation": "!=", "value": "inbound"}, False),
        ({"operation": "reg", "value": "/^IN/i"}, True),
        ({"operation": "reg", "value": "/^IN/"}, False),
        ({"operation": "reg", "value": "/^in/g"}, True),
        ({"operation": "reg", "value": "bound$"}, True),
    ],
)
def test_webitel_call_direction(entry: dict[str, Any], expected: bool) -> None:
    """Webitel's ``{field: {operation, value}}`` shape, including ``/pattern/flags``."""
    assert _matches({"call_direction": entry}) is expected


@pytest.mark.parametrize(
    ("field", "entry", "expected"),
    [
        ("duration_seconds", {"operation": ">", "value": 41}, True),
        ("duration_seconds", {"operation": "<", "value": "41"}, False),
        ("duration_seconds", {"operation": ">=", "value": 42}, True),
        ("duration_seconds", {"operation": "<=", "value": 41}, False),
        ("missing", {"operation": "==", "value": "null"}, True),
        ("call_direction", {"operation": "==", "value": "null"}, False),
        ("call_direction", {"operation": "!=", "value": "null"}, True),
    ],
)
def test_webitel_comparisons(field: str, entry: dict[str, Any], expected: bool) -> None:
    """Webitel's comparisons, and ``"null"`` meaning an absent field."""
    assert _matches({field: entry}) is expected
