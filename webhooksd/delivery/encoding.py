"""Kazoo's body encodings: ``kz_http_util:json_to_querystring`` and jiffy's JSON printer.

Form and query strings follow ``encode_kv``: a scalar is ``kz_term:to_binary`` of it (a float
printed by ``kz_mochinum:digits``), a list element the same (``null`` → ``null``, an object its
compact JSON, a nested list its strings run together as Erlang's ``iolist_to_binary`` does).
Where Kazoo's encoder is broken its documentation is followed: keys are url-encoded (the
``[``/``]`` of the nesting syntax stay literal); a value the encoder crashes on (``null`` outside
a list; inside a nested list a number over 255, a float, a boolean, ``null`` or an object) is
left out instead of losing the whole event; empty objects or lists produce nothing instead of
``&&``.

JSON bodies are what ``kz_json:encode(JObj, ['pretty'])`` prints: jiffy's layout (two-space
indent, ``" : "``, an empty object as ``{``, newline, the inner indent, newline, ``}``), its string
escapes (``\\u001F`` in capitals, ``/`` and non-ASCII as they are) and double-conversion's
shortest floats (``1.0``, ``1e+21``, ``1.5e-7``). Kazoo 5's ``v2`` bodies are the same printer,
compact and with sorted keys (:func:`canonical_json`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from decimal import Decimal
from typing import Any, NoReturn
from urllib.parse import quote_plus

import orjson


def _encode(value: str | bytes) -> str:
    # Kazoo's urlencode_plus keeps A-Z a-z 0-9 . - ~ _ and writes space as "+"
    return quote_plus(value, safe="")


def _shortest(value: float, *, tie_up: bool = False) -> tuple[str, int]:
    """The shortest digits that read back as ``value`` and the decimal point's position
    (``value = 0.<digits> * 10**point``), the nearer of the two candidates. Python's ``repr``
    finds them and, when ``value`` lies exactly halfway between two, takes the even one, as
    double-conversion's ``ToShortest`` (jiffy) does; ``kz_mochinum`` goes up instead
    (``tie_up``)."""
    shortest = Decimal(repr(abs(value)))
    if tie_up:
        shortest = _halfway_up(shortest, abs(value))
    _, digits, exponent = shortest.as_tuple()
    assert isinstance(exponent, int)  # a finite float: JSON has no NaN or infinity
    text = "".join(map(str, digits))
    stripped = text.rstrip("0")
    if not stripped:
        return "0", 1
    lead = len(text) - len(text.lstrip("0"))
    return stripped.lstrip("0"), len(text) + exponent - lead


def _halfway_up(shortest: Decimal, value: float) -> Decimal:
    """The upper candidate when ``value`` is exactly halfway between ``shortest`` and it (a tie
    only ever leaves the even digit, so only an even last digit can hide one)."""
    _, digits, exponent = shortest.as_tuple()
    assert isinstance(exponent, int)
    if digits[-1] % 2:
        return shortest
    up = shortest + Decimal((0, (1,), exponent))
    exact = Decimal(value)
    if float(up) == value and up - exact == exact - shortest:
        return up
    return shortest


def erlang_float(value: float) -> str:
    """``kz_term:to_binary`` of a float (``kz_mochinum:digits``): ``1.5``, ``100.0``, ``1.0e-7``,
    ``1.0e+21``: positional while the point is less than six places beyond the digits."""
    if value == 0:
        return "0.0"
    digits, point = _shortest(value, tie_up=True)
    sign = "-" if value < 0 else ""
    places = point - len(digits)
    if point == 0:
        text = "0." + digits
    elif point > 0 and places < 0:
        text = f"{digits[:point]}.{digits[point:]}"
    elif point > 0 and places < 6:
        text = digits + "0" * places + ".0"
    elif point < 0 and point > -6:
        text = "0." + "0" * -point + digits
    else:
        mark = "e-" if point < 0 else "e+"
        text = f"{digits[0]}.{digits[1:] or '0'}{mark}{abs(point - 1)}"
    return sign + text


def jiffy_float(value: float) -> str:
    """jiffy's float (double-conversion ``ToShortest``, decimal for exponents -6 to 20)."""
    if value == 0:
        return "0.0"
    digits, point = _shortest(value)
    sign = "-" if value < 0 else ""
    exponent = point - 1
    if -6 <= exponent < 21:
        if point <= 0:
            text = "0." + "0" * -point + digits
        elif point >= len(digits):
            text = digits + "0" * (point - len(digits)) + ".0"
        else:
            text = f"{digits[:point]}.{digits[point:]}"
    else:
        mantissa = digits[0] + (f".{digits[1:]}" if len(digits) > 1 else "")
        text = f"{mantissa}e{'+' if exponent >= 0 else '-'}{abs(exponent)}"
    return sign + text


def _to_binary(value: Any) -> bytes | None:
    """``kz_term:to_binary`` of a list element, or None where Kazoo crashes."""
    if value is True:
        return b"true"
    if value is False:
        return b"false"
    if value is None:
        return b"null"
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, int):
        return str(value).encode()
    if isinstance(value, float):
        return erlang_float(value).encode()
    if isinstance(value, Mapping):
        return _jiffy(value, None).encode()
    if isinstance(value, list):
        return _iolist(value)
    return None


def _iolist(value: list[Any]) -> bytes | None:
    """``iolist_to_binary``: strings and bytes (integers 0-255) run together, lists flattened;
    None (Kazoo's ``badarg``) for anything else."""
    out = bytearray()
    for item in value:
        if isinstance(item, str):
            out += item.encode()
        elif isinstance(item, int) and not isinstance(item, bool) and 0 <= item <= 255:
            out.append(item)
        elif isinstance(item, list):
            inner = _iolist(item)
            if inner is None:
                return None
            out += inner
        else:
            return None
    return bytes(out)


def _scalar(value: Any) -> bytes | None:
    """A value outside a list: as a list element, except ``null`` (Kazoo's function_clause)."""
    return None if value is None else _to_binary(value)


def _pairs(key: str, value: Any) -> Iterator[str]:
    if isinstance(value, Mapping):
        for sub, inner in value.items():
            yield from _pairs(f"{key}[{_encode(str(sub))}]", inner)
    elif isinstance(value, list):
        for item in value:
            text = _to_binary(item)
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


#: what jiffy escapes in a string: the quote, the backslash and the C0 controls
_ESCAPED = re.compile(r'["\\\x00-\x1f]')
_SHORT_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r"}
_SHORT_ESCAPES["\t"] = "\\t"


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    return _SHORT_ESCAPES.get(char) or f"\\u{ord(char):04X}"


def _string(value: str) -> str:
    return '"' + _ESCAPED.sub(_escape, value) + '"'


def _jiffy(value: Any, depth: int | None) -> str:
    """jiffy's encoding of ``value``; ``depth`` is the nesting level when pretty, else None."""
    if isinstance(value, str):
        return _string(value)
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "null"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return jiffy_float(value)
    inner = None if depth is None else depth + 1
    if isinstance(value, Mapping):
        colon = ":" if depth is None else " : "
        items = [f"{_string(str(k))}{colon}{_jiffy(v, inner)}" for k, v in value.items()]
        return _container("{", items, "}", depth)
    if isinstance(value, list | tuple):
        return _container("[", [_jiffy(v, inner) for v in value], "]", depth)
    raise TypeError(f"{type(value).__name__} is not JSON")


def _container(opening: str, items: list[str], closing: str, depth: int | None) -> str:
    if depth is None:
        return opening + ",".join(items) + closing
    # jiffy breaks the line after the opening bracket and before the closing one even when
    # there is nothing between them
    inside, outside = "\n" + "  " * (depth + 1), "\n" + "  " * depth
    return opening + inside + ("," + inside).join(items) + outside + closing


def json_body(payload: Mapping[str, Any]) -> bytes:
    """``kz_json:encode(JObj, ['pretty'])``: jiffy's pretty printing, UTF-8.

    orjson's two-space layout is jiffy's but for ``": "`` (jiffy: ``" : "``), empty
    containers (``{}``; jiffy breaks the line twice), floats and escapes (other spellings).
    So orjson prints (a fortieth of the time of the printer below), the separator and the
    empty containers are rewritten where the rewrite is provably exact, and any other body —
    a float, a backslash, something orjson would print and jiffy refuse — goes to
    :func:`jiffy_pretty`. The bytes are the same either way (a property test compares them).
    """
    try:
        out = orjson.dumps(payload, default=_refuse, option=_ORJSON_OPTIONS)
    except TypeError:  # orjson.JSONEncodeError is one; jiffy_pretty says what is wrong
        return jiffy_pretty(payload)
    # No backslash: no escape to respell, and every quote opens or closes a string.
    if b"\\" in out:
        return jiffy_pretty(payload)
    # Outside strings ": " follows a key and nothing else; inside, it can only follow an
    # opening quote (a string beginning ": "), which always comes after a space (the indent,
    # or a key's ": "). Without ' ": ' then, every '": ' ends a key.
    if b' ": ' in out:
        return jiffy_pretty(payload)
    # A walk of the values tells floats and empty containers apart from look-alikes inside
    # strings for half of what searching the printed text outside strings cost; a value of
    # another type than JSON's own (a tuple, a subclass…) leaves it to that search.
    empties: list[int] = [] if payload else [0]
    if not _plain(payload, 1, empties):
        return _checked(payload, out.replace(b'": ', b'" : '))
    out = out.replace(b'": ', b'" : ')
    if empties:
        out = _widen_empties(out, empties)
    return out


def _plain(value: Mapping[str, Any] | list[Any], depth: int, empties: list[int]) -> bool:
    """Whether ``value`` (a dict or a list) holds nothing but strings, integers, booleans,
    nulls, dicts and lists; the empty dicts and lists in it are added to ``empties`` in
    printing order, as their nesting depth (negated for a list)."""
    items: Iterable[Any] = value.values() if type(value) is dict else value
    for item in items:
        kind = type(item)
        # ``is``, most frequent first: cheaper than a set's lookup
        if kind is str or kind is bool or kind is int or item is None:
            continue
        if kind is dict or kind is list:
            if not item:
                empties.append(depth if kind is dict else -depth)
            elif not _plain(item, depth + 1, empties):
                return False
        else:
            return False
    return True


def _widen_empties(out: bytes, empties: list[int]) -> bytes:
    """The empty containers ``_plain`` found (their depths) as jiffy prints them. When the
    text holds as many ``{}`` and ``[]`` as there are empty containers, none of them is
    inside a string and the n-th is the n-th empty container; else :func:`_break_empties`
    tells them apart."""
    if min(empties) >= 0 or max(empties) < 0:  # of one kind: one search
        between = out.split(b"{}" if empties[0] >= 0 else b"[]")
        if len(between) != len(empties) + 1:
            return _break_empties(out)
    else:
        places = sorted(_found(out, b"{}") + _found(out, b"[]"))
        if len(places) != len(empties):
            return _break_empties(out)
        bounds = zip([-2, *places], [*places, len(out)], strict=True)
        between = [out[start + 2 : end] for start, end in bounds]
    parts = [between[0]]
    for depth, after in zip(empties, between[1:], strict=True):
        indent = b"  " * abs(depth)
        if depth >= 0:
            parts += [b"{\n", indent, b"  \n", indent, b"}", after]
        else:
            parts += [b"[\n", indent, b"  \n", indent, b"]", after]
    return b"".join(parts)


def _checked(payload: Mapping[str, Any], out: bytes) -> bytes:
    """The orjson text of a payload ``_plain`` could not vouch for (separators widened): its
    text outside strings searched for floats and empty containers."""
    # the even pieces between quotes are what lies outside strings
    outside = b"".join(out.split(b'"')[::2])
    if b"." in outside or _EXPONENT.search(outside) is not None:
        return jiffy_pretty(payload)
    if b"{}" in outside or b"[]" in outside:
        out = _break_empties(out)
    return out


def _break_empties(out: bytes) -> bytes:
    """Each empty object or list outside strings as jiffy prints it: the bracket, a line of
    the inner indent, the closing bracket on a line of the value's indent. Found with
    ``find`` (a regex took longer than the whole of orjson's printing)."""
    pieces: list[bytes] = []
    start = quotes_seen = scanned = 0
    for at in sorted(_found(out, b"{}") + _found(out, b"[]")):
        quotes_seen += out.count(b'"', scanned, at)
        scanned = at
        if quotes_seen % 2:  # an odd number of quotes before it: inside a string
            continue
        line = out.rfind(b"\n", 0, at) + 1
        indent = line
        while out[indent] == 0x20:
            indent += 1
        indent -= line
        pieces += [out[start : at + 1], b"\n", b" " * (indent + 2), b"\n", b" " * indent]
        start = at + 1
    pieces.append(out[start:])
    return b"".join(pieces)


def _found(out: bytes, needle: bytes) -> list[int]:
    places = []
    at = out.find(needle)
    while at >= 0:
        places.append(at)
        at = out.find(needle, at + 2)
    return places


def jiffy_pretty(payload: Mapping[str, Any]) -> bytes:
    """jiffy's pretty printing, written out value by value (any input :func:`json_body`
    cannot print through orjson)."""
    return _jiffy(payload, 0).encode("utf-8", "surrogatepass")


def _sorted(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _sorted(value[k]) for k in sorted(value, key=str)}
    if isinstance(value, list | tuple):
        return [_sorted(v) for v in value]
    return value


def canonical_json(value: Any) -> bytes:
    """``kz_json:encode(JObj, ['canonical'])`` as webhooksd reads it: jiffy's compact printing
    with keys sorted at every level, UTF-8 (Kazoo 5's JSON bodies and the data its ``v2``
    HMAC covers; :mod:`webhooksd.delivery.v2`)."""
    return _jiffy(_sorted(value), None).encode("utf-8", "surrogatepass")


def _refuse(value: Any) -> NoReturn:
    # what orjson cannot print the way _jiffy would (a subclass of str, int, dict or list,
    # a dataclass or a date) goes to _jiffy, which prints or refuses it as it always did
    raise TypeError(type(value).__name__)


_ORJSON_OPTIONS = (
    orjson.OPT_INDENT_2
    | orjson.OPT_PASSTHROUGH_SUBCLASS
    | orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_DATETIME
)
#: a number's exponent outside strings (``1e+21``): jiffy spells floats its own way
_EXPONENT = re.compile(rb"[0-9][eE]")


def with_query(uri: str, query: str) -> str:
    """Append a query string; Kazoo appends ``?`` blindly, giving ``…?a=b?x=y``."""
    if not query:
        return uri
    return f"{uri}{'&' if '?' in uri else '?'}{query}"
