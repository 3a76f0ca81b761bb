"""``${path}`` templates for request bodies and headers (Webitel's ``rawBody`` and header
templates, ``hookClass.js`` ``Message`` and ``_setHeadersFromEvent``).

Syntax:

* ``${a.b.c}`` is the payload value at a dotted path (see :mod:`.paths`);
* ``${a.b|text}`` is the same with ``text`` used when the value is missing or null (the
  default runs to the closing ``}`` and may be empty: ``${a|}``);
* ``$$`` is one literal ``$``; any other ``$`` not followed by ``{`` is literal too;
* ``${auth:body:<field>}`` and ``${auth:header:<name>}`` (headers only) are the fields and
  headers of the hook's auth pre-request answer.

Escaping follows the content type. JSON: a placeholder inside a JSON string is escaped as
string content; outside a string it becomes a JSON value (``42``, ``"text"``, ``{…}``, or
``null`` when missing). Form (``application/x-www-form-urlencoded``): values are
percent-encoded. Headers: CR and LF are replaced by spaces. Anything else: inserted as text.
Non-string values are written as compact JSON (``true``, ``42``, ``{"a":1}``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote_plus

import orjson

from .paths import Path, lookup, parse_path

Mode = Literal["json", "form", "text", "header"]
AUTH_PREFIX = "auth:"
MAX_TEMPLATE_CHARS = 16_384


@dataclass(frozen=True, slots=True, kw_only=True)
class Placeholder:
    """One ``${…}``: where its value comes from and whether it sits inside a JSON string."""

    source: str
    path: Path
    default: str | None
    in_json_string: bool

    @property
    def is_auth(self) -> bool:
        return self.source.startswith(AUTH_PREFIX)


Part = str | Placeholder


@dataclass(frozen=True, slots=True)
class Template:
    """A compiled template: literal text and placeholders in order."""

    parts: tuple[Part, ...]

    @property
    def placeholders(self) -> tuple[Placeholder, ...]:
        return tuple(p for p in self.parts if isinstance(p, Placeholder))

    @property
    def uses_auth(self) -> bool:
        return any(p.is_auth for p in self.placeholders)

    def render(self, payload: Any, mode: Mode, auth_vars: Mapping[str, str] | None = None) -> str:
        """Fill every placeholder from ``payload`` (auth placeholders from ``auth_vars``)."""
        out: list[str] = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
            else:
                found, value = _value(part, payload, auth_vars or {})
                out.append(_escape(part, found and value is not None, value, mode))
        return "".join(out)

    def missing(self, payload: Any) -> list[str]:
        """Placeholders without a default whose value is missing from ``payload``."""
        return [
            p.source
            for p in self.placeholders
            if p.default is None and not _value(p, payload, {})[0]
        ]


def _value(part: Placeholder, payload: Any, auth_vars: Mapping[str, str]) -> tuple[bool, Any]:
    if part.is_auth:
        return part.source in auth_vars, auth_vars.get(part.source)
    return lookup(payload, part.path)


def as_text(value: Any) -> str:
    """A value as text: strings as they are, anything else as compact JSON."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    try:
        return orjson.dumps(value).decode()
    except TypeError:  # e.g. an integer beyond 64 bits
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _json_value(text: str) -> str:
    """A default outside a JSON string: itself if it is JSON, else a JSON string."""
    try:
        json.loads(text)
    except ValueError:
        return orjson.dumps(text).decode()
    return text


def _escape(part: Placeholder, found: bool, value: Any, mode: Mode) -> str:
    if mode == "json":
        if part.in_json_string:
            text = as_text(value) if found else (part.default or "")
            return orjson.dumps(text).decode()[1:-1]
        if found:
            return orjson.dumps(value).decode() if _plain(value) else as_text(value)
        return "null" if part.default is None else _json_value(part.default)
    text = as_text(value) if found else (part.default or "")
    if mode == "form":
        return quote_plus(text, safe="")
    if mode == "header":
        return text.replace("\r", " ").replace("\n", " ")
    return text


def _plain(value: Any) -> bool:
    """Whether orjson can write the value as it is (big integers need the fallback)."""
    return not isinstance(value, int) or isinstance(value, bool) or abs(value) < 2**63


def compile_template(text: object, *, allow_auth: bool) -> Template:
    """Parse a template; ValueError says what is wrong (with the offset)."""
    if not isinstance(text, str):
        raise ValueError("a template must be a string")
    if len(text) > MAX_TEMPLATE_CHARS:
        raise ValueError(f"a template must not be longer than {MAX_TEMPLATE_CHARS} characters")
    parts: list[Part] = []
    literal: list[str] = []
    state = _JsonState()
    i = 0
    while i < len(text):
        if text.startswith("$$", i):
            literal.append("$")
            state.feed("$")
            i += 2
        elif text.startswith("${", i):
            end = text.find("}", i + 2)
            if end < 0:
                raise ValueError(f"placeholder at offset {i} is not closed with '}}'")
            _flush(parts, literal)
            parts.append(_placeholder(text[i + 2 : end], i, state.in_string, allow_auth))
            i = end + 1
        else:
            literal.append(text[i])
            state.feed(text[i])
            i += 1
    _flush(parts, literal)
    return Template(tuple(parts))


def _flush(parts: list[Part], literal: list[str]) -> None:
    if literal:
        parts.append("".join(literal))
        literal.clear()


def _placeholder(inner: str, offset: int, in_string: bool, allow_auth: bool) -> Placeholder:
    source, bar, default = inner.partition("|")
    source = source.strip()
    if not source:
        raise ValueError(f"placeholder at offset {offset} is empty")
    if source.startswith(AUTH_PREFIX):
        if not allow_auth:
            raise ValueError(
                f"${{{source}}}: auth values may only be used in custom_request_headers"
            )
        if not source.startswith(("auth:body:", "auth:header:")) or source.count(":") < 2:
            raise ValueError(f"${{{source}}}: use auth:body:<field> or auth:header:<name>")
        path: Path = (source,)
    else:
        try:
            path = parse_path(source)
        except ValueError as exc:
            raise ValueError(f"placeholder at offset {offset}: {exc}") from None
    return Placeholder(
        source=source, path=path, default=default if bar else None, in_json_string=in_string
    )


class _JsonState:
    """Tracks whether the literal text so far leaves us inside a JSON string."""

    __slots__ = ("escaped", "in_string")

    def __init__(self) -> None:
        self.in_string = False
        self.escaped = False

    def feed(self, char: str) -> None:
        if self.escaped:
            self.escaped = False
        elif self.in_string and char == "\\":
            self.escaped = True
        elif char == '"':
            self.in_string = not self.in_string


def check_json(template: Template) -> str | None:
    """Why the template would not give JSON once filled, or None when it would."""
    sample = "".join(
        part if isinstance(part, str) else ("x" if part.in_json_string else "0")
        for part in template.parts
    )
    try:
        json.loads(sample)
    except ValueError as exc:
        return f"not valid JSON once its placeholders are filled: {exc}"
    return None
