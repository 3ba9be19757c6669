"""The card's plots as PNG bytes: completion lengths, and pass rate by problem source.

Drawn on a bare `matplotlib.figure.Figure` (no pyplot, no global state, no display) and saved
without the software/date metadata, so the same numbers always give the same bytes.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

from matplotlib.figure import Figure


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, metadata={"Software": None})
    return buf.getvalue()


def token_histogram(lengths: Sequence[int]) -> bytes:
    fig = Figure(figsize=(7, 3.5), layout="constrained")
    ax = fig.add_subplot()
    ax.hist(list(lengths), bins=40, color="#3b75af", edgecolor="white", linewidth=0.5)
    ax.set_xlabel("completion tokens per published trace")
    ax.set_ylabel("traces")
    ax.set_title(f"Completion length ({len(lengths):,} traces)")
    ax.grid(axis="y", alpha=0.3)
    return _png(fig)


def pass_rate_by_source(rates: dict[str, tuple[int, int]]) -> bytes:
    """`rates`: source → (generated, passed)."""
    names = list(rates)
    values = [p / g if g else 0.0 for g, p in rates.values()]
    fig = Figure(figsize=(7, 0.8 + 0.45 * len(names)), layout="constrained")
    ax = fig.add_subplot()
    bars = ax.barh(range(len(names)), values, color="#4c9a5b")
    ax.set_yticks(range(len(names)), [n if len(n) <= 40 else n[:37] + "..." for n in names])
    ax.invert_yaxis()
    ax.set_xlim(0, 1.15)
    ax.set_xlabel("pass rate of generated samples")
    ax.bar_label(bars, labels=[f"{v:.0%} of {g:,}" for v, (g, _) in zip(values, rates.values())], padding=3)
    ax.grid(axis="x", alpha=0.3)
    return _png(fig)


def scaling_curves(curves: dict[str, dict[int, float]], title: str) -> bytes:
    """Accuracy against samples per problem, one line per best-of-n strategy, n on a log scale."""
    fig = Figure(figsize=(6, 3.8), layout="constrained")
    ax = fig.add_subplot()
    for name, curve in curves.items():
        ks = sorted(curve)
        ax.plot(ks, [100 * curve[k] for k in ks], marker="o" if len(ks) <= 16 else None, label=name)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("samples per problem (n)")
    ax.set_ylabel("accuracy (%)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    return _png(fig)


def training_curve(curves: dict[str, list[tuple[int, float, float, float]]]) -> bytes:
    """`curves`: benchmark → (step, avg@n, interval low, high) per checkpoint."""
    fig = Figure(figsize=(6, 3.8), layout="constrained")
    ax = fig.add_subplot()
    for name, points in curves.items():
        steps = [p[0] for p in points]
        ax.plot(steps, [100 * p[1] for p in points], marker="o", label=name)
        ax.fill_between(steps, [100 * p[2] for p in points], [100 * p[3] for p in points], alpha=0.15)
    ax.set_xlabel("training step")
    ax.set_ylabel("avg@n (%)")
    ax.set_title("Scores by training step (95% intervals)")
    ax.grid(alpha=0.3)
    ax.legend()
    return _png(fig)
