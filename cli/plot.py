"""`rebate simulate --plot FILE`: the days of one or more runs as a chart (PNG or SVG, matplotlib)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def plot_days(runs: list[tuple[str, list[Any]]], path: Path) -> None:
    """Liability, net cash and the wait of a new entitlement per day, one line per run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if path.suffix.lower() not in (".png", ".svg"):
        raise ValueError(f"--plot writes .png or .svg, not {path.suffix!r}")
    fig, axes = plt.subplots(3, 1, figsize=(8, 9), sharex=True)
    for name, days in runs:
        x = [d.day for d in days]
        axes[0].plot(x, [float(d.liability) for d in days], label=name)
        axes[1].plot(x, [float(d.net_cash) for d in days], label=name)
        axes[2].plot(x, [d.wait_days if d.wait_days is not None else float("nan") for d in days], label=name)
    for ax, title in zip(axes, ("liability (unpaid entitlements)", "platform net cash", "wait of a new entitlement (days)"), strict=True):
        ax.set_title(title)
        ax.grid(True, alpha=0.3)
        ax.legend()
    axes[2].set_xlabel("day")
    fig.tight_layout()
    fig.savefig(path, metadata={"Date": None} if path.suffix.lower() == ".svg" else None)
    plt.close(fig)
