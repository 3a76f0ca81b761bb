"""Filter regexes on a linear-time engine (RE2, the ``google-re2`` bindings).

A filter pattern is the tenant's and the value it is matched against is the caller's (a
caller-ID name): with a backtracking engine such as Python's ``re``, ``^(a+)+$`` against 27
``a`` and a ``!`` holds the event loop for seconds, doubling with each character. RE2 matches
in time linear in the value (times the size of the compiled program), so the worst case is
bounded by two limits checked here:

* ``MAX_PROGRAM_SIZE``: RE2's program size summed over a filter's regexes (refused on save);
* ``MAX_MATCH_CHARS``: longer values are not searched and never match.

What RE2 cannot express (backreferences, lookahead, lookbehind, ``\\Z``, possessive or atomic
groups, repetition counts above 1000) is refused when the hook is saved. Other differences
from Python's ``re``: ``\\d``, ``\\w``, ``\\s`` and ``\\b`` are ASCII-only; ``$`` without
``(?m)`` matches only at the very end (not before a final newline).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, cast

import re2

#: RE2 program size summed over one filter's regexes. Measured: the worst pattern this allows
#: (one that defeats RE2's DFA cache, so it runs its NFA) takes about 15 ms against a value of
#: ``MAX_MATCH_CHARS``; ordinary patterns (``^\\+44``, ``(?i)^inbound$``) are size 4 to 30
MAX_PROGRAM_SIZE = 1000
#: longest value a regex is searched in (a caller-ID name is under 100, an SMS under 1,600)
MAX_MATCH_CHARS = 4096
#: RE2's memory budget for one pattern (program and DFA cache); its default is 8 MiB
MAX_MEM_BYTES = 2 * 1024 * 1024

_UNSUPPORTED_HINT = (
    "RE2 syntax: no backreferences, lookahead or lookbehind, repetition counts up to 1000"
)


class _Compiled(Protocol):
    """What is used of ``re2._Regexp`` (the bindings have no type hints)."""

    @property
    def programsize(self) -> int: ...

    def search(self, text: str) -> object | None: ...


@dataclass(frozen=True, slots=True)
class LinearPattern:
    """A compiled RE2 pattern: ``search`` anywhere in a value of bounded length."""

    pattern: str
    program_size: int
    _compiled: _Compiled

    def search(self, text: str) -> bool:
        if len(text) > MAX_MATCH_CHARS:
            return False
        return self._compiled.search(text) is not None


def _options() -> Any:
    options = re2.Options()
    options.log_errors = False  # a tenant's bad pattern is a 400, not a line on stderr
    options.max_mem = MAX_MEM_BYTES
    return options


def compile_linear(pattern: str, flags: str = "") -> LinearPattern:
    """Compile ``pattern`` (with inline ``flags`` among ``ims``); ValueError if RE2 refuses."""
    source = f"(?{flags}){pattern}" if flags else pattern
    try:
        compiled = cast(_Compiled, re2.compile(source, _options()))
    except re2.error as exc:
        raise ValueError(f"unsupported or bad regular expression ({_detail(exc)}); "
                         f"{_UNSUPPORTED_HINT}") from None  # fmt: skip
    return LinearPattern(pattern=source, program_size=compiled.programsize, _compiled=compiled)


def _detail(exc: Exception) -> str:
    detail = exc.args[0] if exc.args else ""
    if isinstance(detail, bytes):
        return detail.decode("utf-8", "replace")
    return str(detail)
