"""Kazoo's body encodings, with the documented fixes (keys encoded, nulls skipped)."""

from __future__ import annotations

import json
from urllib.parse import parse_qsl

import pytest

from webhooksd.delivery.encoding import json_body, querystring, with_query


def test_kazoo_documented_example() -> None:
    """The example of kz_http_util's documentation encodes exactly."""
    payload = {"a": "x y", "n": 5, "o": {"k": "v"}, "l": ["1", "2"], "t": True}
    assert querystring(payload) == "a=x+y&n=5&o[k]=v&l[]=1&l[]=2&t=true"


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({"deep": {"a": {"b": "c"}}}, "deep[a][b]=c"),
        ({"f": False, "x": 1.5}, "f=false&x=1.5"),
        ({"gone": None, "kept": "k"}, "kept=k"),
        ({"empty": {}, "none": [], "k": "v"}, "k=v"),
        ({"l": [{"a": 1}]}, "l[]=%7B%22a%22%3A1%7D"),
        ({"sp ace&=": "v"}, "sp+ace%26%3D=v"),
        ({"u": "café/+?"}, "u=caf%C3%A9%2F%2B%3F"),
        ({"keep": "A-z0.9_~"}, "keep=A-z0.9_~"),
        ({"a[b]": "v", "o": {"k]": "w"}}, "a%5Bb%5D=v&o[k%5D]=w"),
        ({"o": {"l": ["x", None, 2]}}, "o[l][]=x&o[l][]=null&o[l][]=2"),
        ({"l": [["a", ["b"]], [], True, 0.1]}, "l[]=ab&l[]=&l[]=true&l[]=0.1"),
        ({"l": [[1.5], [None], [True], [{"a": 1}], [256], "k"]}, "l[]=k"),
        ({"l": [[72, "i"]]}, "l[]=Hi"),
        (
            {"l": [{"a": 1.0, "b": "\x01/"}]},
            "l[]=%7B%22a%22%3A1.0%2C%22b%22%3A%22%5Cu0001%2F%22%7D",
        ),
        (
            {"big": 12345678901234567890, "neg": -3, "e": 1e-07},
            "big=12345678901234567890&neg=-3&e=1.0e-7",
        ),
        ({"ja": "日本 語"}, "ja=%E6%97%A5%E6%9C%AC+%E8%AA%9E"),
    ],
)
def test_querystring_table(payload: dict[str, object], expected: str) -> None:
    """Nesting, booleans, floats, nulls, empties, objects in lists, keys and unicode."""
    assert querystring(payload) == expected


def test_querystring_round_trips_through_a_form_parser() -> None:
    """What receivers parse back is what was sent, even with awkward characters."""
    payload = {"caller_id_name": "Zoë & Co = 1+1", "id": "a/b?c"}
    assert dict(parse_qsl(querystring(payload))) == payload


def test_json_body_is_pretty_utf8_without_escaped_slashes() -> None:
    """jiffy's pretty: indented, UTF-8 as is, '/' not escaped."""
    body = json_body({"uri": "http://x/y", "name": "Zoë"})
    assert body == '{\n  "uri" : "http://x/y",\n  "name" : "Zoë"\n}'.encode()
    assert json.loads(body) == {"uri": "http://x/y", "name": "Zoë"}


def test_with_query_respects_an_existing_query() -> None:
    """GET appends with '&' when the URI has a query (Kazoo appended a second '?')."""
    assert with_query("http://h/p", "a=1") == "http://h/p?a=1"
    assert with_query("http://h/p?x=y", "a=1") == "http://h/p?x=y&a=1"
    assert with_query("http://h/p", "") == "http://h/p"
