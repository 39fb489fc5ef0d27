"""Pictures (matplotlib, Agg): fitness curves with a band over seeds, Gantt charts, floorplans,
Pareto fronts, grouped bars, heatmaps and scaling curves.

Every axis names its quantity and unit (:data:`QUANTITY_LABELS`, :func:`objective_label`); log
axes carry several plainly written tick labels (:func:`_plain_log_ticks`). Each picture is built
by a ``_*_figure`` function, which the tests inspect, and written by its public namesake."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch, Rectangle  # noqa: E402

from costmodel.files import atomic_open  # noqa: E402

#: the picture formats written, by file suffix
FORMATS = ("png", "svg", "pdf")

#: axis labels of the figures a schedule has, with their units
QUANTITY_LABELS = {
    "latency_s": "latency (s)",
    "energy_j": "energy (J)",
    "edp": "EDP (J·s)",
    "throughput": "throughput (inferences/s)",
}

#: axis labels of the objectives' fitness values (costmodel.problem.OBJECTIVES; fitness is
#: minimized, so for throughput it is seconds per inference; tests/test_plots.py holds this
#: table to cover every objective)
_OBJECTIVE_UNITS = {
    "edp": QUANTITY_LABELS["edp"],
    "latency": QUANTITY_LABELS["latency_s"],
    "energy": QUANTITY_LABELS["energy_j"],
    "throughput": "1 / throughput (s per inference)",
    # the latency-target objectives are scores without a unit (costmodel/targets.py)
    "energy@targets": "energy@targets score (no unit; < 1: every target met)",
    "edp@targets": "edp@targets score (no unit; < 1: every target met)",
    "targets-met": "targets-met score (no unit; missed priority weight + energy term < 1)",
}


def objective_label(objective: str) -> str:
    """An objective's fitness as an axis label with its unit (``edp`` -> ``EDP (J·s)``); other
    text unchanged."""
    return _OBJECTIVE_UNITS.get(objective, objective)


def check_picture_path(path: str | Path, where: str = "picture") -> Path:
    """``path`` if its suffix names a format :func:`_save` writes; ``ValueError`` otherwise."""
    path = Path(path)
    fmt = path.suffix.lstrip(".").lower()
    if fmt not in FORMATS:
        raise ValueError(
            f"{where} {path}: suffix {path.suffix or '(none)'!r} is not one of "
            + ", ".join("." + f for f in FORMATS)
        )
    return path


def _save(fig: Figure, path: str | Path) -> Path:
    """Lay out, write (whole, atomically; the format from the suffix, PNG without one) and
    close a figure."""
    path = Path(path)
    try:
        fmt = check_picture_path(path).suffix.lstrip(".").lower() if path.suffix else "png"
        if fig.get_layout_engine() is None:
            fig.tight_layout()
        with atomic_open(path, "wb") as f:
            fig.savefig(f, dpi=110, format=fmt)
    finally:
        plt.close(fig)
    return path


# --- ticks ---------------------------------------------------------------------------------------
_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def _plain_number(v: float, digits: int) -> str:
    """``v`` written out (no exponent between 1e-4 and 1e16) to ``digits`` significant digits,
    trailing zeros dropped; integers from 10,000 up with thousands separators."""
    if not np.isfinite(v) or v <= 0:
        return f"{v:g}"
    if v >= 1e4 and v == round(v):
        return f"{v:,.0f}"
    if v < 1e-4:  # 5×10⁻⁶ rather than 5e-06
        m, e = f"{v:.{digits - 1}e}".split("e")
        m = m.rstrip("0").rstrip(".")
        sup = str(int(e)).translate(_SUPERSCRIPT)
        return ("" if m == "1" else f"{m}×") + f"10{sup}"
    return np.format_float_positional(v, precision=digits, unique=False, fractional=False, trim="-")


class _PlainFormatter(matplotlib.ticker.Formatter):
    """Plain tick labels with as few significant digits as write every tick exactly, so that
    the ticks of a narrow axis never read alike (``0.1, 0.1, 0.1``)."""

    def __init__(self) -> None:
        self.digits = 1

    def set_locs(self, locs) -> None:
        super().set_locs(locs)
        vals = [float(v) for v in locs if np.isfinite(v) and v > 0]
        for d in range(1, 16):
            self.digits = d
            if all(abs(float(f"{v:.{d - 1}e}") - v) <= 1e-9 * v for v in vals):
                break

    def __call__(self, x, pos=None) -> str:
        return _plain_number(x, self.digits)


def _plain_log_ticks(ax) -> None:
    """Log axes whose numbers a reader can read off: labels at the powers of ten over 3 decades
    or more, at 1, 2, 3 and 5 x each power of ten over 1-3 decades, and at evenly spaced round
    values over less than a decade (where a log axis would label one tick or none); at least
    three labelled ticks in each case, each written plainly and exactly."""
    for axis, (lo, hi) in ((ax.xaxis, ax.get_xlim()), (ax.yaxis, ax.get_ylim())):
        if axis.get_scale() != "log":
            continue
        lo, hi = min(lo, hi), max(lo, hi)
        decades = np.log10(hi / lo) if lo > 0 else 3.0
        if decades < 1:
            axis.set_major_locator(
                matplotlib.ticker.MaxNLocator(nbins=5, steps=[1, 2, 2.5, 5, 10], min_n_ticks=3)
            )
        else:
            subs = (1.0,) if decades >= 3 else (1.0, 2.0, 5.0)
            axis.set_major_locator(matplotlib.ticker.LogLocator(subs=subs))
        axis.set_major_formatter(_PlainFormatter())
        axis.set_minor_formatter(matplotlib.ticker.NullFormatter())


# --- fitness curves ------------------------------------------------------------------------------
def _best_so_far(history: list[dict], key: str, grid: np.ndarray) -> np.ndarray:
    """One run's best-so-far at each point of ``grid`` (``key`` = evals or seconds): a
    non-increasing step function, ``+inf`` before the run's first record (a run that has not
    started has found nothing, so it can only hold a median up, never pull it back up later)."""
    xs = np.array([h[key] for h in history], dtype=float)
    order = np.argsort(xs, kind="stable")
    xs = xs[order]
    ys = np.minimum.accumulate(np.array([h["best"] for h in history], dtype=float)[order])
    idx = np.searchsorted(xs, grid, side="right") - 1
    return np.where(idx >= 0, ys[np.clip(idx, 0, None)], np.inf)


def _median_and_band(runs: list[list[dict]], key: str, grid: np.ndarray):
    """Median, min and max over runs of their best-so-far on ``grid``. Each curve is
    non-increasing (``+inf`` before it starts), so each order statistic, and the median, is
    non-increasing too. Returned with ``nan`` where undefined: the median until half the runs
    have started, the band until all have."""
    Y = np.array([_best_so_far(r, key, grid) for r in runs])
    med, lo, hi = np.median(Y, axis=0), Y.min(axis=0), Y.max(axis=0)
    return tuple(np.where(np.isfinite(v), v, np.nan) for v in (med, lo, hi))


def _fitness_figure(
    histories: dict[str, list[list[dict]]], title: str = "", ylabel: str = "best objective"
) -> Figure:
    ylabel = " ".join(objective_label(w) for w in ylabel.split(" "))
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, key, xlabel in (
        (axes[0], "evals", "schedule evaluations"),
        (axes[1], "seconds", "wall-clock time (s)"),
    ):
        ys: list[np.ndarray] = []
        spans: list[float] = []
        for name, runs in histories.items():
            runs = [r for r in runs if r]
            if not runs:
                continue
            hi = max(max(h[key] for h in r) for r in runs)
            lo = min(min(h[key] for h in r) for r in runs)
            lo = max(lo, 1e-6)
            spans += [lo, max(hi, lo)]
            grid = np.unique(np.geomspace(lo, max(hi, lo * 1.0001), 400))
            med, band_lo, band_hi = _median_and_band(runs, key, grid)
            label = name if len(runs) == 1 else f"{name} ({len(runs)} seeds)"
            ys += [med, band_lo, band_hi]
            if all(len(r) == 1 for r in runs):  # one call a run (a one-pass agent): a mark at
                # the median, bars over min..max of the runs' objectives and their x
                xs = np.array([r[0][key] for r in runs], dtype=float)
                v = np.array([r[0]["best"] for r in runs], dtype=float)
                m, x = float(np.median(v)), float(np.median(xs))
                ax.errorbar(
                    [x],
                    [m],
                    yerr=[[m - v.min()], [v.max() - m]],
                    xerr=[[x - xs.min()], [xs.max() - x]],
                    fmt="o",
                    capsize=4,
                    label=label,
                )
                continue
            (line,) = ax.step(grid, med, where="post", label=label)
            if len(runs) > 1:
                ax.fill_between(
                    grid,
                    band_lo,
                    band_hi,
                    where=np.isfinite(band_hi),
                    step="post",
                    color=line.get_color(),
                    alpha=0.2,
                    linewidth=0,
                )
        y = np.concatenate(ys) if ys else np.zeros(0)
        y = y[np.isfinite(y)]
        ax.set_xscale("log")
        if spans and max(spans) < 1.5 * min(spans):  # only one-point agents: a readable range
            ax.set_xlim(min(spans) / 2, max(spans) * 2)
        if len(y) and y.min() > 0:  # a log axis, unless an objective can reach 0 or below
            ax.set_yscale("log")
            lo, hi = y.min(), y.max()
            pad = (hi / lo) ** 0.06 if hi > lo * 1.0001 else 1.01  # flat: +-1%, not a decade
            ax.set_ylim(lo / pad, hi * pad)
        _plain_log_ticks(ax)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.grid(True, which="both", alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle(
        title or "best-so-far: median over seeds, band = min..max (once every seed has started)"
    )
    return fig


def fitness_curves(
    histories: dict[str, list[list[dict]]],
    path: str | Path,
    title: str = "",
    ylabel: str = "best objective",
) -> Path:
    """Median best-so-far and the band between the min and max over seeds, per agent, against
    evaluations (left) and seconds (right). ``ylabel`` words that name an objective get its
    unit (``best edp`` -> ``best EDP (J·s)``)."""
    return _save(_fitness_figure(histories, title, ylabel), path)


# --- Gantt chart ---------------------------------------------------------------------------------
def _model_colors(names: list[str]) -> dict[str, tuple]:
    cmap = plt.get_cmap("tab10")
    return {n: cmap(i % 10) for i, n in enumerate(names)}


def _gantt_bars(ax, timeline, colors: dict) -> None:
    """Every task of ``timeline`` as a bar on its chiplet's row (ms), weight loads hatched and
    marked at their start, window ends dashed."""
    loads = [e for e in timeline.events if e.kind == "weights"]
    for e in timeline.events:
        load = e.kind == "weights"
        ax.barh(
            e.chiplet,
            (e.end - e.start) * 1e3,
            left=e.start * 1e3,
            height=0.7,
            facecolor=colors[e.model],
            edgecolor="black" if load else "white",  # white: the micro-batches apart
            hatch="////" if load else None,
            linewidth=0.6 if load else 0.4,
            label="_weights" if load else "_compute",
            zorder=3 if load else 2,
        )
    if loads:  # a load often lasts microseconds of a schedule of milliseconds: mark each start
        ax.scatter(
            [e.start * 1e3 for e in loads],
            [e.chiplet - 0.45 for e in loads],
            marker="v",
            s=30,
            color="black",
            zorder=4,
            label="_load starts",
        )
    for t in timeline.window_end_s:
        ax.axvline(t * 1e3, color="grey", linestyle="--", linewidth=0.8, zorder=1)
    ax.grid(True, axis="x", alpha=0.3)


def _load_zoom(timeline) -> tuple[int, float, float] | None:
    """(window, start, end) in ms of a view of the first window with weight loads wide enough
    to see them, or ``None`` if the loads are visible at the schedule's scale (or absent)."""
    loads = [e for e in timeline.events if e.kind == "weights"]
    if not loads:
        return None
    span = max(e.end for e in timeline.events) - min(e.start for e in timeline.events)
    if max(e.end - e.start for e in loads) > 0.01 * span:
        return None
    w = min(e.window for e in loads)
    t0 = min(e.start for e in loads if e.window == w)
    t1 = max(e.end for e in loads if e.window == w)
    return w, (t0 - 0.3 * (t1 - t0)) * 1e3, (t1 + 2.0 * (t1 - t0)) * 1e3


def _gantt_figure(timeline, problem, title: str = "") -> Figure:
    names = [m.name for m in problem.workload.models]
    colors = _model_colors(names)
    n = problem.mcm.n_chiplets
    loads = [e for e in timeline.events if e.kind == "weights"]
    zoom = _load_zoom(timeline)
    fig, axes = plt.subplots(
        1,
        2 if zoom else 1,
        figsize=(13 if zoom else 11, 0.38 * n + 2.4),
        squeeze=False,
        sharey=True,
        width_ratios=[3, 1] if zoom else [1],
        layout="constrained",
    )
    ax = axes[0, 0]
    for a in axes[0]:
        _gantt_bars(a, timeline, colors)
        a.set_xlabel("time (ms)")
    ax.set_yticks(range(n))
    ax.set_yticklabels(
        [f"c{i} {problem.mcm.chiplet_class(i).dataflow}" for i in range(n)], fontsize=7
    )
    ax.set_ylim(n - 0.4, -0.75)
    end_ms = max((e.end for e in timeline.events), default=0.0) * 1e3
    if end_ms > 0:
        ax.set_xlim(-0.01 * end_ms, 1.01 * end_ms)  # room for the marks of loads at time 0
    ax.set_ylabel("chiplet (dataflow)")
    ax.set_title("whole schedule", fontsize=9)
    if zoom:
        w, t0, t1 = zoom
        z = axes[0, 1]
        z.set_xlim(t0, t1)
        z.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(nbins=4, min_n_ticks=3))
        z.xaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter(useOffset=False))
        z.set_title(f"zoom: the weight loads of window {w}", fontsize=9)
        ax.axvspan(t0, t1, color="gold", alpha=0.5, zorder=0)
    handles: list = [Patch(facecolor=colors[nm], label=nm) for nm in names]
    total = sum(e.end - e.start for e in loads) * 1e3
    handles.append(
        Patch(
            facecolor="white",
            edgecolor="black",
            hatch="////",
            label=f"weight load ({len(loads)}, {total:.3g} ms in all; \u25bc marks each start)"
            if loads
            else "weight load (none in this schedule)",
        )
    )
    handles.append(Line2D([], [], color="grey", linestyle="--", label="window end"))
    if zoom:
        handles.append(Patch(facecolor="gold", alpha=0.5, label="zoomed span"))
    fig.legend(handles=handles, fontsize=8, loc="outside lower center", ncol=min(len(handles), 4))
    fig.suptitle(title or "schedule timeline per chiplet")
    return fig


def gantt(timeline, problem, path: str | Path, title: str = "") -> Path:
    """Per-chiplet timeline of a schedule (from :func:`costmodel.simulate`): one row per chiplet,
    bars coloured by model, weight loads hatched with a marker at each start (they are often
    too short to see at the schedule's scale), window ends as dashed lines."""
    return _save(_gantt_figure(timeline, problem, title), path)


# --- floorplan -----------------------------------------------------------------------------------
_DATAFLOW_COLORS = {
    "ws": "#9ecae1",
    "os": "#fdae6b",
    "systolic-ws": "#a1d99b",
    "systolic-os": "#fcbba1",
    "os-best": "#dadaeb",
}


def _floorplan_figure(problem, schedule, result, title: str = "") -> Figure:
    mcm = problem.mcm
    R, C = mcm.rows, mcm.cols
    placed: dict[int, list[str]] = {}
    for st in result.stages:
        placed.setdefault(st.chiplet, []).append(
            f"{st.model} w{st.window} L{st.layers[0]}"
            + (f"-{st.layers[1] - 1}" if st.layers[1] - 1 > st.layers[0] else "")
        )
    texts = {}
    for i in range(mcm.n_chiplets):
        lines = [f"c{i} {mcm.chiplet_class(i).dataflow}", *placed.get(i, [])[:4]]
        if len(placed.get(i, [])) > 4:
            lines.append(f"+{len(placed[i]) - 4} more")
        texts[i] = "\n".join(lines)
    longest = max(len(line) for t in texts.values() for line in t.split("\n"))
    # a chiplet (0.76 of a column) wide enough for the longest line at 7 pt (about 0.065 inch
    # a character)
    col_in = max(1.9, 0.065 * longest / 0.7)
    fig, ax = plt.subplots(figsize=(col_in * C + 2.0, 1.7 * R + 1), layout="constrained")
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
            Rectangle(
                (c - 0.38, r - 0.38),
                0.76,
                0.76,
                facecolor=_DATAFLOW_COLORS.get(df, "white"),
                edgecolor="black",
                zorder=2,
                label=f"chiplet {i}",
            )
        )
        ax.text(c, r, texts[i], ha="center", va="center", fontsize=7, zorder=3)
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
    fig.colorbar(sm, ax=ax, label="NoP link load (MB)", shrink=0.7, aspect=25)
    ax.set_xlim(-0.6, C - 0.4)
    ax.set_ylim(R - 0.4, -0.6)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(
        title or "floorplan: dataflows, stages (model, window, layers), NoP link load",
        fontsize=10,
    )
    return fig


def floorplan(problem, schedule, result, path: str | Path, title: str = "") -> Path:
    """The MCM mesh: chiplets coloured by dataflow and labelled with the stages placed on them
    (full model name, window, layers), NoP links drawn with a width and colour by their total
    bytes, DRAM edges marked."""
    return _save(_floorplan_figure(problem, schedule, result, title), path)


# --- Pareto front --------------------------------------------------------------------------------
def _non_dominated(front: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    """Latency and energy of the non-dominated points of all fronts given, by latency."""
    if not front:
        return np.zeros(0), np.zeros(0)
    lat = np.array([p["latency_s"] for p in front], dtype=float)
    en = np.array([p["energy_j"] for p in front], dtype=float)
    keep = [
        i
        for i in range(len(lat))
        if not np.any((lat <= lat[i]) & (en <= en[i]) & ((lat < lat[i]) | (en < en[i])))
    ]
    lat, en = lat[keep], en[keep]
    o = np.lexsort((en, lat))
    return lat[o], en[o]


def _zoom_box(lat, en, baselines: dict[str, tuple[float, float]], near: float = 1.5):
    """(x0, x1, y0, y1) around the front and the points within a factor ``near`` of its extent,
    padded by 8% of the span (0.5% of the value at least)."""
    x0, x1, y0, y1 = lat.min(), lat.max(), en.min(), en.max()
    for la, e in baselines.values():
        if x0 / near <= la <= x1 * near and y0 / near <= e <= y1 * near:
            x0, x1, y0, y1 = min(x0, la), max(x1, la), min(y0, e), max(y1, e)
    px = max(0.08 * (x1 - x0), 0.005 * x1)
    py = max(0.08 * (y1 - y0), 0.005 * y1)
    return x0 - px, x1 + px, y0 - py, y1 + py


def _pareto_figure(
    front: list[dict], baselines: dict[str, tuple[float, float]], title: str = ""
) -> Figure:
    lat, en = _non_dominated(front)
    zoom = len(lat) > 0
    fig, axes = plt.subplots(
        1,
        2 if zoom else 1,
        figsize=(12, 5.2) if zoom else (7, 5.2),
        squeeze=False,
        layout="constrained",
    )
    full = axes[0, 0]
    styles = {
        name: ("^s*DPvXo<>"[i % 10], plt.get_cmap("tab10")((i + 1) % 10))
        for i, name in enumerate(baselines)
    }

    def draw(ax, box=None) -> list[str]:
        """The front and the baselines (inside ``box`` only, if given); the names left out."""
        if len(lat):
            ax.step(lat, en, where="post", color="tab:blue", alpha=0.5, zorder=2)
            ax.scatter(lat, en, color="tab:blue", s=18, label="NSGA-II front", zorder=3)
        left_out = []
        for name, (la, e) in baselines.items():
            if box is not None and not (box[0] <= la <= box[1] and box[2] <= e <= box[3]):
                left_out.append(name)
                continue
            marker, color = styles[name]
            ax.scatter(
                [la],
                [e],
                marker=marker,
                color=color,
                s=60,
                label=name,
                zorder=4,
                edgecolor="black",
                linewidth=0.5,
            )
        ax.set_xlabel(QUANTITY_LABELS["latency_s"])
        ax.set_ylabel(QUANTITY_LABELS["energy_j"])
        ax.grid(True, which="both", alpha=0.3)
        return left_out

    draw(full)
    full.set_xscale("log")
    full.set_yscale("log")
    full.margins(0.08)
    full.autoscale_view()
    _plain_log_ticks(full)
    full.set_title("all points (log axes)", fontsize=9)
    if zoom:
        box = _zoom_box(lat, en, baselines)
        ax = axes[0, 1]
        left_out = draw(ax, box)
        ax.set_xlim(box[0], box[1])
        ax.set_ylim(box[2], box[3])
        for axis in (ax.xaxis, ax.yaxis):
            axis.set_major_locator(matplotlib.ticker.MaxNLocator(nbins=6, min_n_ticks=3))
            axis.set_major_formatter(matplotlib.ticker.ScalarFormatter(useOffset=False))
        ax.set_title("zoom on the front (linear axes; dashed box at left)", fontsize=9)
        if left_out:
            ax.text(
                0.98,
                0.98,
                "beyond this panel:\n" + "\n".join(left_out),
                transform=ax.transAxes,
                ha="right",
                va="top",
                fontsize=7,
                bbox={"facecolor": "white", "alpha": 0.8, "edgecolor": "lightgrey"},
            )
        full.add_patch(
            Rectangle(
                (box[0], box[2]),
                box[1] - box[0],
                box[3] - box[2],
                fill=False,
                edgecolor="dimgrey",
                linestyle="--",
                linewidth=1.0,
                zorder=5,
                label="_zoom box",
            )
        )
    handles, labels = full.get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=min(len(labels), 4), fontsize=8)
    fig.suptitle(title or "latency vs energy")
    return fig


def pareto(
    front: list[dict], baselines: dict[str, tuple[float, float]], path: str | Path, title: str = ""
) -> Path:
    """Latency vs energy: the searched front (non-dominated points of all fronts given) and the
    baselines as labelled markers, over all points (log axes) and, beside it, zoomed on the
    front and the points near it (linear axes)."""
    return _save(_pareto_figure(front, baselines, title), path)


# --- bars, heatmap, scaling ----------------------------------------------------------------------
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
    axes[1].set_ylabel("median search time to within 5% of best (s)")
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
