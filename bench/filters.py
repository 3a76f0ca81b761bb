"""How long one hook's filter can hold the event loop (``python -m bench.filters``).

The worst filter the limits allow (regexes that defeat RE2's DFA cache, so it runs its NFA,
filling the program-size budget) against a value of the longest length searched, and the
classic catastrophic-backtracking patterns against a hostile caller-ID name. Target: 50 ms.
"""

from __future__ import annotations

import random
import statistics
import time
from typing import Any

from webhooksd.transforms import compile_hook_transforms
from webhooksd.transforms.regex import MAX_MATCH_CHARS, MAX_PROGRAM_SIZE, compile_linear

RUNS = 7


def _worst_filters() -> dict[str, list[dict[str, Any]]]:
    """Filters at (or just under) the program-size budget, shaped to defeat the DFA."""
    shapes: dict[str, list[dict[str, Any]]] = {}
    for alternatives, width in ((30, 12), (12, 40), (4, 110), (1, 480)):
        pattern = "|".join(f"[ab]*a[ab]{{{width + i}}}c" for i in range(alternatives))
        copies = max(1, MAX_PROGRAM_SIZE // compile_linear(pattern).program_size)
        shapes[f"{alternatives}x[ab]{{{width}}} x{copies}"] = [
            {"field": "v", "regex": pattern}
        ] * copies
    return shapes


def _time(filter_value: Any, payload: dict[str, Any]) -> tuple[float, float]:
    compiled = compile_hook_transforms({"filter": filter_value})
    samples = []
    for _ in range(RUNS):
        started = time.perf_counter()
        compiled.matches(payload)
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples), max(samples)


def main() -> None:
    rng = random.Random(2)
    value = "".join(rng.choice("ab") for _ in range(MAX_MATCH_CHARS))
    print(f"value {MAX_MATCH_CHARS} chars, program-size budget {MAX_PROGRAM_SIZE}")
    for name, filter_value in _worst_filters().items():
        median, worst = _time(filter_value, {"v": value})
        print(f"  {name:28} median {median:6.1f} ms  max {worst:6.1f} ms")
    hostile = {"v": "a" * 40 + "!"}
    for pattern in ("^(a+)+$", "(a|aa)+$", "(.*a){12}z"):
        median, worst = _time([{"field": "v", "regex": pattern}], hostile)
        print(f"  {pattern:28} median {median:6.3f} ms  max {worst:6.3f} ms")


if __name__ == "__main__":
    main()
