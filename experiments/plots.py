"""Pictures (matplotlib, Agg): fitness curves with a band over seeds, Gantt charts, Pareto fronts."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from costmodel.files import atomic_open  # noqa: E402


def _save(fig, path: str | Path) -> Path:
    """Lay out, write (whole, atomically; the format from the suffix, PNG by default) and close
    a figure."""
    path = Path(path)
    try:
        fig.tight_layout()
        with atomic_open(path, "wb") as f:
            fig.savefig(f, dpi=110, format=path.suffix.lstrip(".") or "png")
    finally:
        plt.close(fig)
    return path


def _plain_log_ticks(ax) -> None:
    """Log axes whose numbers a reader can read off: plain labels at the powers of ten over 3
    decades or more, at 1, 2, 3 and 5 x each power of ten over 1-3 decades, at every integer
    multiple over less than a decade, and at evenly spaced values over less than a factor 2
    (where a log axis would label one tick or none)."""
    fmt = matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:,.0f}" if v >= 1e4 else f"{v:.4g}")
    for axis, (lo, hi) in ((ax.xaxis, ax.get_xlim()), (ax.yaxis, ax.get_ylim())):
        if axis.get_scale() != "log":
            continue
        if hi / lo < 2:
            axis.set_major_locator(matplotlib.ticker.MaxNLocator(6))
        else:
            decades = np.log10(hi / lo)
            subs = (
                (1.0,) if decades >= 3 else (1.0, 2.0, 3.0, 5.0) if decades >= 1 else range(1, 10)
            )
            axis.set_major_locator(matplotlib.ticker.LogLocator(subs=subs))
        axis.set_major_formatter(fmt)
        axis.set_minor_formatter(matplotlib.ticker.NullFormatter())


def _step_curve(history: list[dict], key: str, grid: np.ndarray) -> np.ndarray:
    """Best-so-far at each point of ``grid`` (``key`` = evals or seconds) as a step function."""
    xs = np.array([h[key] for h in history], dtype=float)
    ys = np.array([h["best"] for h in history], dtype=float)
    idx = np.searchsorted(xs, grid, side="right") - 1
    return np.where(idx >= 0, ys[np.clip(idx, 0, None)], np.nan)


#: Objective names as axis labels with their units (fitness is minimized: for throughput it is
#: seconds per inference).
_OBJECTIVE_UNITS = {
    "edp": "EDP (J s)",
    "latency": "latency (s)",
    "energy": "energy (J)",
    "throughput": "s per inference (1 / throughput)",
}


def fitness_curves(
    histories: dict[str, list[list[dict]]],
    path: str | Path,
    title: str = "",
    ylabel: str = "best objective",
) -> Path:
    """Median best-so-far and the band between the min and max over seeds, per agent, against
    evaluations (left) and seconds (right)."""
    ylabel = " ".join(_OBJECTIVE_UNITS.get(w, w) for w in ylabel.split(" "))
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
        _plain_log_ticks(ax)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.grid(True, which="both", alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle(title or "best-so-far: median over seeds, band = min..max")
    return _save(fig, path)


def _model_colors(names: list[str]) -> dict[str, tuple]:
    cmap = plt.get_cmap("tab10")
    return {n: cmap(i % 10) for i, n in enumerate(names)}


def gantt(timeline, problem, path: str | Path, title: str = "") -> Path:
    """Per-chiplet timeline of a schedule (from :func:`costmodel.simulate`): one row per chiplet,
    bars coloured by model (hatched: weight loads), window ends as dashed lines."""
    names = [m.name for m in problem.workload.models]
    colors = _model_colors(names)
    n = problem.mcm.n_chiplets
    fig, ax = plt.subplots(figsize=(11, 0.35 * n + 1.8))
    for e in timeline.events:
        ax.barh(
            e.chiplet,
            (e.end - e.start) * 1e3,
            left=e.start * 1e3,
            height=0.8,
            color=colors[e.model],
            edgecolor="black" if e.kind == "weights" else "none",
            hatch="//" if e.kind == "weights" else None,
            linewidth=0.3,
        )
    for t in timeline.window_end_s:
        ax.axvline(t * 1e3, color="grey", linestyle="--", linewidth=0.8)
    letters = "".join(problem.mcm.grid_letters())
    ax.set_yticks(range(n))
    ax.set_yticklabels([f"c{i} ({letters[i]})" for i in range(n)], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("time (ms); dashed: window ends; hatched: weight loads")
    handles = [plt.Rectangle((0, 0), 1, 1, color=colors[nm]) for nm in names]
    ax.legend(handles, names, fontsize=8, loc="upper right")
    ax.set_title(title or "schedule timeline per chiplet")
    return _save(fig, path)


def floorplan(problem, schedule, result, path: str | Path, title: str = "") -> Path:
    """The MCM mesh: chiplets coloured by dataflow and labelled with the stages placed on them,
    NoP links drawn with a width and colour by their total bytes, DRAM edges marked."""
    mcm = problem.mcm
    R, C = mcm.rows, mcm.cols
    fig, ax = plt.subplots(figsize=(1.9 * C + 2.5, 1.7 * R + 1))
    df_colors = {
        "ws": "#9ecae1",
        "os": "#fdae6b",
        "systolic-ws": "#a1d99b",
        "systolic-os": "#fcbba1",
        "os-best": "#dadaeb",
    }
    placed: dict[int, list[str]] = {}
    for st in result.stages:
        placed.setdefault(st.chiplet, []).append(
            f"{st.model[:8]} w{st.window} L{st.layers[0]}-{st.layers[1] - 1}"
        )
    loads = np.array([result.link_bytes[lk] for lk in mcm.links]) if mcm.links else np.zeros(0)
    vmax = loads.max() if len(loads) and loads.max() > 0 else 1.0
    cmap = plt.get_cmap("Reds")
    for (a, b), v in zip(mcm.links, loads):
        (ra, ca), (rb, cb) = mcm.coord(a), mcm.coord(b)
        off = 0.08 if a < b else -0.08  # the two directions side by side
        dx, dy = (0, off) if ra == rb else (off, 0)
        ax.plot(
            [ca + dx, cb + dx],
            [ra + dy, rb + dy],
            color=cmap(0.2 + 0.8 * v / vmax),
            linewidth=0.5 + 4 * v / vmax,
            zorder=1,
        )
    for i in range(mcm.n_chiplets):
        r, c = mcm.coord(i)
        df = mcm.chiplet_class(i).dataflow
        ax.add_patch(
            plt.Rectangle(
                (c - 0.38, r - 0.38),
                0.76,
                0.76,
                facecolor=df_colors[df],
                edgecolor="black",
                zorder=2,
            )
        )
        text = f"c{i} {df}\n" + "\n".join(placed.get(i, [])[:4])
        if len(placed.get(i, [])) > 4:
            text += f"\n+{len(placed[i]) - 4} more"
        ax.text(c, r, text, ha="center", va="center", fontsize=6, zorder=3)
    for r in range(R):
        for c in (0, C - 1):
            ax.annotate(
                "DRAM",
                (c + (-0.48 if c == 0 else 0.48), r),
                fontsize=6,
                ha="center",
                va="center",
                rotation=90,
                color="dimgrey",
            )
    sm = plt.cm.ScalarMappable(cmap=cmap, norm=plt.Normalize(0, vmax / 1e6))
    fig.colorbar(sm, ax=ax, label="NoP link load (MB)", fraction=0.04)
    ax.set_xlim(-0.6, C - 0.4)
    ax.set_ylim(R - 0.4, -0.6)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(title or "floorplan: dataflows, stages, NoP link load")
    return _save(fig, path)


def pareto(
    front: list[dict], baselines: dict[str, tuple[float, float]], path: str | Path, title: str = ""
) -> Path:
    """Latency vs energy: the searched front and the baselines as labelled markers."""
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    if front:
        lat = np.array([p["latency_s"] for p in front])
        en = np.array([p["energy_j"] for p in front])
        keep = [
            i
            for i in range(len(lat))  # the non-dominated points of all fronts given
            if not np.any((lat <= lat[i]) & (en <= en[i]) & ((lat < lat[i]) | (en < en[i])))
        ]
        lat, en = lat[keep], en[keep]
        o = np.argsort(lat)
        ax.step(lat[o] * 1e3, en[o], where="post", color="tab:blue", alpha=0.5)
        ax.scatter(lat * 1e3, en, color="tab:blue", s=18, label="NSGA-II front", zorder=3)
    for i, (name, (la, e)) in enumerate(baselines.items()):
        ax.scatter([la * 1e3], [e], marker="^s*DPv"[i % 7], s=50, label=name, zorder=4)
    ax.set_xscale("log")
    ax.set_yscale("log")
    _plain_log_ticks(ax)
    ax.set_xlabel("latency (ms)")
    ax.set_ylabel("energy (J)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    ax.set_title(title or "latency vs energy")
    return _save(fig, path)


def bars(
    table: dict[str, dict[str, float]],
    path: str | Path,
    ylabel: str,
    title: str = "",
    log: bool = True,
    values: bool = False,
) -> Path:
    """Grouped bars: one group per row key (e.g. scenario), one bar per column key (strategy);
    ``values`` writes each bar's value (4 significant digits) above it and the legend beside."""
    groups = list(table)
    series = list(dict.fromkeys(k for g in groups for k in table[g]))
    width = 0.8 / max(len(series), 1)
    wide = 2.2 * len(groups) + 4 if values else 1.6 * len(groups) + 2
    fig, ax = plt.subplots(figsize=(max(7, wide), 5 if values else 4.5))
    x = np.arange(len(groups))
    for i, s in enumerate(series):
        bars_ = ax.bar(
            x + i * width - 0.4 + width / 2,
            [table[g].get(s, np.nan) for g in groups],
            width,
            label=s,
        )
        if values:
            ax.bar_label(bars_, fmt="%.4g", rotation=90, fontsize=7, padding=2)
    ax.set_xticks(x)
    ax.set_xticklabels(groups)
    if log:
        ax.set_yscale("log")
    if values:  # room above the tallest bar for its label
        lo, hi = ax.get_ylim()
        ax.set_ylim(lo, hi * 4 if log else hi * 1.15)
    if log:
        _plain_log_ticks(ax)
    ax.set_ylabel(ylabel)
    ax.grid(True, axis="y", which="both", alpha=0.3)
    if values:
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    else:
        ax.legend(fontsize=7, ncol=2)
    ax.set_title(title)
    return _save(fig, path)


def heatmap(
    matrix: np.ndarray,
    rows: list[str],
    cols: list[str],
    path: str | Path,
    title: str = "",
    label: str = "",
    xlabel: str = "",
    ylabel: str = "",
) -> Path:
    fig, ax = plt.subplots(figsize=(1.2 * len(cols) + 3, 0.5 * len(rows) + 2))
    lim = max(abs(np.nanmax(matrix) - 1), abs(1 - np.nanmin(matrix)), 0.05)
    im = ax.imshow(matrix, cmap="RdBu", vmin=1 - lim, vmax=1 + lim, aspect="auto")
    for i in range(len(rows)):
        for j in range(len(cols)):
            dark = abs(matrix[i, j] - 1) > 0.6 * lim  # white text on the deep colours
            color = "white" if dark else "black"
            ax.text(j, i, f"{matrix[i, j]:.3f}", ha="center", va="center", fontsize=7, color=color)
    ax.set_xticks(range(len(cols)))
    ax.set_xticklabels(cols, rotation=30, ha="right", fontsize=8)
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels(rows, fontsize=8)
    ax.set_xlabel(xlabel, fontsize=8)
    ax.set_ylabel(ylabel, fontsize=8)
    fig.colorbar(im, ax=ax, label=label)
    ax.set_title(title)
    return _save(fig, path)


def scaling(rows: list[dict], path: str | Path, objective: str = "") -> Path:
    """Evaluations per second, search time to within 5% of the best known, and the best
    objective, against the number of chiplets."""
    n = [r["chiplets"] for r in rows]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    axes[0].plot(n, [r["numpy_evals_s"] for r in rows], "o-", label="numpy")
    if all("numba_evals_s" in r for r in rows):
        axes[0].plot(n, [r["numba_evals_s"] for r in rows], "s-", label="numba")
    axes[0].set_ylabel("schedule evaluations / s")
    axes[0].legend(fontsize=8)
    axes[1].plot(n, [r["median_seconds_to_5pct"] for r in rows], "o-")
    axes[1].set_ylabel("median search seconds to within 5% of best")
    axes[2].plot(n, [r["best"] for r in rows], "o-")
    axes[2].set_ylabel(f"best {_OBJECTIVE_UNITS.get(objective, 'objective')} found")
    for ax in axes:
        ax.set_xscale("log")
        ax.set_yscale("log")
        _plain_log_ticks(ax)
        ax.set_xlabel("chiplets")
        ax.set_xticks(n)
        ax.set_xticklabels([f"{r['mcm']}\n{r['scenario']}" for r in rows], fontsize=7)
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.grid(True, which="both", alpha=0.3)
    return _save(fig, path)
