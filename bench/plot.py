"""Render ``bench/results/latest.json`` as one PNG: throughput and latency against load, and
matching cost against hook count."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def render(data: dict[str, Any], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    for name, color in (("relay", "tab:blue"), ("daemon", "tab:orange")):
        runs = data.get(name, {})
        rated = sorted((r["rate"], r) for k, r in runs.items() if k.startswith("rate_"))
        if not rated:
            continue
        rates = [r for r, _ in rated]
        axes[0].plot(
            rates, [r["events_per_s"] for _, r in rated], marker="o", color=color, label=name
        )
        axes[1].plot(
            rates, [r["p99_ms"] for _, r in rated], marker="o", color=color, label=f"{name} p99"
        )
        axes[1].plot(
            rates,
            [r["p50_ms"] for _, r in rated],
            marker=".",
            linestyle="--",
            color=color,
            label=f"{name} p50",
        )
    axes[0].set(
        title="Delivered events/s against offered load",
        xlabel="offered events/s",
        ylabel="delivered events/s",
    )
    axes[1].set(
        title="Publish→delivery latency", xlabel="offered events/s", ylabel="ms", yscale="log"
    )
    scale = data.get("scale", {})
    lines = (
        ("find_us", "random account (result grows)"),
        ("find_same_result_us", "same 3-hook result"),
    )
    peak = 0.0
    for key, label in lines:
        find = scale.get(key, {})
        if find:
            counts = sorted(int(c) for c in find)
            axes[2].plot(counts, [find[str(c)] for c in counts], marker="o", label=label)
            peak = max(peak, *find.values())
    if peak:
        axes[2].set(
            title="HookTable.find per event",
            xlabel="hooks loaded (10k accounts)",
            ylabel="µs",
            xscale="log",
            ylim=(0, peak * 1.5),
        )
    for ax in axes:
        ax.grid(True, alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=110)
