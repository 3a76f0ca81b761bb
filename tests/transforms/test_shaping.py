"""``fields`` then ``map`` on a payload."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from webhooksd.transforms import compile_hook_transforms

PAYLOAD: dict[str, Any] = {
    "call_id": "c1",
    "caller_id_name": "Ann",
    "cluster_id": "k",
    "custom_channel_vars": {"owner_id": "u1", "account_id": "a1"},
    "legs": [{"id": "L0"}],
}


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        ({}, PAYLOAD),
        ({"fields": []}, PAYLOAD),
        ({"fields": ["call_id"]}, {"call_id": "c1"}),
        ({"fields": ["call_id", "nope"]}, {"call_id": "c1"}),
        (
            {"fields": ["call_id", "custom_channel_vars.owner_id"]},
            {"call_id": "c1", "custom_channel_vars": {"owner_id": "u1"}},
        ),
        ({"fields": ["legs"]}, {"legs": [{"id": "L0"}]}),
        ({"fields": ["legs.0"]}, {}),
        ({"fields": ["call_id"], "map": {"call_id": "id"}}, {"id": "c1"}),
        ({"fields": ["call_id"], "map": {"caller_id_name": "name"}}, {"call_id": "c1"}),
        (
            {
                "fields": ["call_id", "caller_id_name"],
                "map": {"call_id": "a", "caller_id_name": "b"},
            },
            {"a": "c1", "b": "Ann"},
        ),
        (
            {
                "fields": ["call_id", "caller_id_name"],
                "map": {"call_id": "caller_id_name", "caller_id_name": "call_id"},
            },
            {"call_id": "Ann", "caller_id_name": "c1"},
        ),
        (
            {"fields": ["custom_channel_vars"], "map": {"custom_channel_vars.owner_id": "owner"}},
            {"custom_channel_vars": {"account_id": "a1"}, "owner": "u1"},
        ),
        (
            {"fields": ["call_id"], "map": {"call_id": "call.id"}},
            {"call": {"id": "c1"}},
        ),
    ],
)
def test_shape(doc: dict[str, Any], expected: dict[str, Any]) -> None:
    """fields keeps the listed paths, then map renames; the input is never modified."""
    before = copy.deepcopy(PAYLOAD)
    assert compile_hook_transforms(doc).shape(PAYLOAD) == expected
    assert before == PAYLOAD
