"""Kazoo's body encodings (``kz_http_util:json_to_querystring``, jiffy ``pretty``).

Where Kazoo's encoder is broken its documentation is followed: keys are url-encoded (the
``[``/``]`` of the nesting syntax stay literal), JSON null values are skipped instead of
crashing, and empty objects or lists produce nothing instead of ``&&``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import quote_plus

import orjson


def _encode(value: str) -> str:
    # Kazoo's urlencode_plus keeps A-Z a-z 0-9 . - ~ _ and writes space as "+"
    return quote_plus(value, safe="")


def _scalar(value: Any) -> str | None:
    if value is None:
        return None
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, int | str):
        return str(value)
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _pairs(key: str, value: Any) -> Iterator[str]:
    if isinstance(value, Mapping):
        for sub, inner in value.items():
            yield from _pairs(f"{key}[{_encode(str(sub))}]", inner)
    elif isinstance(value, list):
        for item in value:
            # Kazoo turns each element into a string first: objects are JSON-encoded
            text = _scalar(item)
            if text is not None:
                yield f"{key}[]={_encode(text)}"
    else:
        text = _scalar(value)
        if text is not None:
            yield f"{key}={_encode(text)}"


def querystring(payload: Mapping[str, Any]) -> str:
    """Kazoo's nested encoding.

    ``{"a":"x y","o":{"k":"v"},"l":["1","2"],"t":true}`` → ``a=x+y&o[k]=v&l[]=1&l[]=2&t=true``
    """
    return "&".join(
        pair for key, value in payload.items() for pair in _pairs(_encode(str(key)), value)
    )


def json_body(payload: Mapping[str, Any]) -> bytes:
    """Pretty-printed UTF-8 JSON, ``/`` not escaped (jiffy's ``pretty``)."""
    try:
        return orjson.dumps(payload, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS)
    except TypeError:  # e.g. an integer beyond 64 bits, which orjson refuses
        return json.dumps(payload, indent=2, ensure_ascii=False).encode()


def with_query(uri: str, query: str) -> str:
    """Append a query string; Kazoo appends ``?`` blindly, giving ``…?a=b?x=y``."""
    if not query:
        return uri
    return f"{uri}{'&' if '?' in uri else '?'}{query}"
