"""The hot path's table from a py-spy profile (``BENCH_PROFILE=<file> python -m bench.run``).

``python -m bench.profile <file> [--top N]`` prints, for the functions most often on the
stack, the share of samples in which they are anywhere on it (inclusive) and at its top
(self), as a Markdown table. Samples of idle threads (the event loop waiting in its selector,
SQLite's thread waiting for work) count: CPU per event is the busy share of the process.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

#: py-spy's raw format: ``frame;frame;… count``, each frame ``function (file:line)``
_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^:()]*)(?::\d+)?\)$")
#: where a thread waits rather than works
_IDLE = ("select", "poll", "wait", "_worker", "run_forever", "acquire")


def _name(frame: str) -> str:
    match = _FRAME.match(frame.strip())
    if match is None:
        return frame.strip()
    path = match["file"]
    for marker in ("site-packages/", "webhooksd/", "lib/python3"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{match['func']} ({path})"


def table(text: str, top: int) -> str:
    inclusive: Counter[str] = Counter()
    self_: Counter[str] = Counter()
    total = idle = 0
    for line in text.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_name(f) for f in stack.split(";") if f.strip()]
        if not frames:
            continue
        total += count
        if frames[-1].split(" ", 1)[0] in _IDLE:
            idle += count
            continue
        self_[frames[-1]] += count
        for name in set(frames):
            inclusive[name] += count
    busy = max(total - idle, 1)
    rows = [
        "| function | inclusive | self |",
        "|---|---|---|",
    ]
    for name, count in inclusive.most_common(top):
        rows.append(f"| `{name}` | {100 * count / busy:.1f}% | {100 * self_[name] / busy:.1f}% |")
    rows.append(f"\n{busy} busy samples of {total}; shares are of the busy ones")
    return "\n".join(rows)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("file", type=Path)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    print(table(args.file.read_text(), args.top))
