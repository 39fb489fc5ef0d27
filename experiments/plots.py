"""Pictures (matplotlib, Agg): fitness curves with a band over seeds, Gantt charts, Pareto fronts."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def _step_curve(history: list[dict], key: str, grid: np.ndarray) -> np.ndarray:
    """Best-so-far at each point of ``grid`` (``key`` = evals or seconds) as a step function."""
    xs = np.array([h[key] for h in history], dtype=float)
    ys = np.array([h["best"] for h in history], dtype=float)
    idx = np.searchsorted(xs, grid, side="right") - 1
    return np.where(idx >= 0, ys[np.clip(idx, 0, None)], np.nan)


def fitness_curves(
    histories: dict[str, list[list[dict]]],
    path: str | Path,
    title: str = "",
    ylabel: str = "best objective",
) -> Path:
    """Median best-so-far and the band between the min and max over seeds, per agent, against
    evaluations (left) and seconds (right)."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, key, xlabel in (
        (axes[0], "evals", "schedule evaluations"),
        (axes[1], "seconds", "wall-clock seconds"),
    ):
        for name, runs in histories.items():
            runs = [r for r in runs if r]
            if not runs:
                continue
            hi = max(r[-1][key] for r in runs)
            lo = min(r[0][key] for r in runs)
            grid = np.geomspace(max(lo, 1e-6), max(hi, lo * 1.0001, 1e-6), 200)
            Y = np.array([_step_curve(r, key, grid) for r in runs])
            with np.errstate(all="ignore"):
                med = np.nanmedian(Y, axis=0)
            (line,) = ax.plot(grid, med, label=f"{name} (n={len(runs)})")
            if len(runs) > 1:
                ax.fill_between(
                    grid,
                    np.nanmin(Y, axis=0),
                    np.nanmax(Y, axis=0),
                    color=line.get_color(),
                    alpha=0.2,
                    linewidth=0,
                )
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.grid(True, which="both", alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle(title or "best-so-far: median over seeds, band = min..max")
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
