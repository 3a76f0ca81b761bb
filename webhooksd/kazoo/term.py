"""``kz_term:to_integer/1`` as ``kz_json:get_integer_value`` applies it (a failed cast is the
default). Kept free of imports so that records and payload accessors can both use it."""

from __future__ import annotations

import math
import re
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

#: what ``binary_to_integer`` reads: an optional sign and digits, nothing around them
_ERLANG_INTEGER = re.compile(r"[+-]?[0-9]+\Z")
#: what ``binary_to_float`` reads: digits on both sides of the point ("1e5", "1." and ".5"
#: are badarg), an optional exponent
_ERLANG_FLOAT = re.compile(r"[+-]?[0-9]+\.[0-9]+(?:[eE][+-]?[0-9]+)?\Z")


def erlang_round(value: float) -> int:
    """Erlang's ``round/1``: halves away from zero (2.5 → 3, -2.5 → -3), on the float's exact
    value; Python's ``round`` sends halves to the even neighbour (2.5 → 2)."""
    return int(Decimal(value).to_integral_value(rounding=ROUND_HALF_UP))


def to_integer(value: Any) -> int | None:
    """An integer as Kazoo reads one: integers as they are, floats rounded, strings an Erlang
    integer or float literal (``"10.5"`` → 11); None for everything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return erlang_round(value) if math.isfinite(value) else None
    if isinstance(value, str):
        if _ERLANG_INTEGER.match(value):
            return int(value)
        if _ERLANG_FLOAT.match(value):
            number = float(value)
            return erlang_round(number) if math.isfinite(number) else None
    return None
