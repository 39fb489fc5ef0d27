"""Anytime analysis of search runs in the COCO / IOHprofiler style, from their histories.

A history is the list of records :class:`search.base.Evaluator` writes to ``history.jsonl``, one
per evaluator call: ``evals`` (evaluations so far), ``seconds`` and ``best`` (best objective so
far, minimized). From it:

- fitness curves: the best-so-far at given evaluations or seconds (a step function; ``nan``
  before the first record);
- hitting times: the first evaluations (or seconds) at which the best reaches a target; the
  record is per call, so the time is the end of the call (batch) that reached it, an upper bound
  on the exact evaluation within the batch;
- ERT (expected running time, Hansen et al., COCO): the evaluations spent by all runs until they
  reached the target, or until they stopped when they did not, divided by the number that did;
- ECDF: the fraction of (instance, target, run) triples whose target is reached within each
  budget, targets ``reference * (1 + gap)`` for :data:`TARGET_GAPS`;
- an export in the IOHprofiler format that IOHanalyzer reads (the ``ioh`` package's
  ``logger.Analyzer`` layout: a ``IOHprofiler_f<id>_<name>.json`` meta file per function and
  algorithm, and a ``data_f<id>_<name>/IOHprofiler_f<id>_DIM<d>.dat`` table ``evaluations
  raw_y`` per run, one row per improvement and one at the last evaluation).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from costmodel.files import atomic_open, write_json_atomic

#: relative gaps to the reference that define the targets (100% down to 0.1%, and 0: the
#: reference itself, reachable where it is a proven optimum or a best known value)
TARGET_GAPS = (*np.round(np.logspace(0, -3, 13), 6).tolist(), 0.0)


def _arrays(history: Sequence[Mapping], key: str) -> tuple[np.ndarray, np.ndarray]:
    if key not in ("evals", "seconds"):
        raise ValueError(f"curve key must be 'evals' or 'seconds', got {key!r}")
    x = np.array([float(h[key]) for h in history])
    y = np.minimum.accumulate(np.array([float(h["best"]) for h in history]))
    return x, y


def best_at(history: Sequence[Mapping], xs, key: str = "evals") -> np.ndarray:
    """Best-so-far at each of ``xs`` (evaluations or seconds); ``nan`` before the first
    record, the final best after the last."""
    x, y = _arrays(history, key)
    xs = np.asarray(xs, dtype=np.float64)
    i = np.searchsorted(x, xs, side="right") - 1
    out = np.where(i >= 0, y[np.maximum(i, 0)], np.nan)
    return out if len(x) else np.full(xs.shape, np.nan)


def hitting_time(history: Sequence[Mapping], target: float, key: str = "evals") -> float:
    """First evaluations (or seconds) at which the best is ``<= target``; ``inf`` if never."""
    x, y = _arrays(history, key)
    hit = np.flatnonzero(y <= target)
    return float(x[hit[0]]) if len(hit) else float("inf")


def ert(histories: Sequence[Sequence[Mapping]], target: float, key: str = "evals") -> float:
    """Expected running time to ``target``: the sum over runs of the time to reach it (or the
    whole run when it does not) over the number of runs that reach it; ``inf`` if none."""
    spent, hits = 0.0, 0
    for h in histories:
        t = hitting_time(h, target, key)
        if np.isfinite(t):
            spent, hits = spent + t, hits + 1
        elif len(h):
            spent += float(h[-1][key])
    return spent / hits if hits else float("inf")


def targets(reference: float, gaps: Sequence[float] = TARGET_GAPS) -> np.ndarray:
    """Targets ``reference * (1 + gap)`` (a minimized, positive objective)."""
    if not reference > 0:
        raise ValueError(f"targets need a positive reference, got {reference!r}")
    return reference * (1.0 + np.asarray(gaps, dtype=np.float64))


def ecdf(
    runs: Mapping[str, Sequence[Sequence[Mapping]]],
    references: Mapping[str, float],
    xs,
    key: str = "evals",
    gaps: Sequence[float] = TARGET_GAPS,
) -> np.ndarray:
    """Fraction of (instance, target, run) triples reached within each of ``xs``:
    ``runs`` maps an instance to its runs' histories, ``references`` an instance to the value
    its targets are relative to."""
    times = []
    for inst, hs in runs.items():
        for t in targets(references[inst], gaps):
            times += [hitting_time(h, t, key) for h in hs]
    if not times:
        return np.zeros(len(np.atleast_1d(xs)))
    times_a = np.sort(np.array(times))
    return np.searchsorted(times_a, np.asarray(xs, dtype=np.float64), side="right") / len(times_a)


def log_grid(histories: Sequence[Sequence[Mapping]], key: str = "evals", n: int = 60) -> np.ndarray:
    """``n`` log-spaced points from the first record to the last over ``histories``."""
    xs = [float(h[0][key]) for h in histories if h] + [float(h[-1][key]) for h in histories if h]
    lo, hi = max(min(xs), 1e-6), max(xs)
    return np.geomspace(lo, max(hi, lo * 1.0001), n)


# --- plots ------------------------------------------------------------------------------------
def plot_curves(
    ax,
    curves: Mapping[str, Sequence[Sequence[Mapping]]],
    key: str,
    reference: float | None = None,
    title: str = "",
) -> None:
    """Median best-so-far (line) and its interquartile band per label on a log x axis; with
    ``reference`` the y axis is the relative gap ``best / reference - 1`` (log, floored at
    1e-4 so that reaching the reference shows)."""
    allh = [h for hs in curves.values() for h in hs if h]
    if not allh:
        return
    xs = log_grid(allh, key)
    for label, hs in curves.items():
        hs = [h for h in hs if h]
        if not hs:
            continue
        Y = np.array([best_at(h, xs, key) for h in hs])
        if reference is not None:
            Y = np.maximum(Y / reference - 1.0, 1e-4)
        with np.errstate(all="ignore"):
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                q1, med, q3 = np.nanpercentile(Y, [25, 50, 75], axis=0)
        (line,) = ax.plot(xs, med, label=f"{label} ({len(hs)})", lw=1.4)
        ax.fill_between(xs, q1, q3, color=line.get_color(), alpha=0.15, lw=0)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("evaluations" if key == "evals" else "seconds")
    ax.set_ylabel("best / ref - 1 (floor 1e-4)" if reference is not None else "best")
    if title:
        ax.set_title(title, fontsize=9)
    ax.grid(True, which="both", alpha=0.3)


def plot_ecdf(
    ax, curves: Mapping[str, tuple[np.ndarray, np.ndarray]], key: str, title: str
) -> None:
    """ECDF curves ``label -> (xs, fraction)`` on a log x axis."""
    for label, (xs, frac) in curves.items():
        ax.step(xs, frac, where="post", label=label, lw=1.4)
    ax.set_xscale("log")
    ax.set_ylim(0, 1)
    ax.set_xlabel("evaluations" if key == "evals" else "seconds")
    ax.set_ylabel("fraction of (instance, target, run)")
    ax.set_title(title, fontsize=9)
    ax.grid(True, which="both", alpha=0.3)


def save(fig, path: Path) -> Path:
    """Save a figure whole (atomically) and close it."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    with atomic_open(path, "wb") as f:
        fig.savefig(f, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


# --- IOHprofiler export -----------------------------------------------------------------------
def _ioh_version() -> str:
    """The format version: the installed ``ioh`` package's (it writes its own), else 0.3.3."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("ioh")
    except PackageNotFoundError:
        return "0.3.3"


def ioh_rows(history: Sequence[Mapping]) -> list[tuple[int, float]]:
    """``(evaluations, best)`` at every improvement, and at the last evaluation."""
    rows: list[tuple[int, float]] = []
    best = float("inf")
    for h in history:
        if float(h["best"]) < best:
            best = float(h["best"])
            rows.append((int(h["evals"]), best))
    if history and (not rows or rows[-1][0] != int(history[-1]["evals"])):
        rows.append((int(history[-1]["evals"]), best))
    return rows


def write_ioh(
    root: str | Path,
    algorithm: str,
    function_id: int,
    function_name: str,
    dimension: int,
    runs: Sequence[tuple[Sequence[Mapping], Sequence[int]]],
    suite: str = "chiplet-sched",
    info: str = "",
    instance: int = 1,
) -> Path:
    """Write one algorithm's runs on one function (instance of the suite) in the IOHprofiler
    format under ``root`` (``runs``: ``(history, best genome)`` per run); returns the meta
    file. Rerunning overwrites both files whole."""
    root = Path(root)
    rel = f"data_f{function_id}_{function_name}/IOHprofiler_f{function_id}_DIM{dimension}.dat"
    (root / rel).parent.mkdir(parents=True, exist_ok=True)
    meta_runs = []
    with atomic_open(root / rel, "w") as f:
        for history, genome in runs:
            rows = ioh_rows(history)
            f.write("evaluations raw_y\n")
            for e, y in rows:
                f.write(f"{e} {y:.10e}\n")
            best = min(rows, key=lambda r: r[1]) if rows else (0, float("nan"))
            first = next(e for e, y in rows if y == best[1]) if rows else 0
            meta_runs.append(
                {
                    "instance": instance,
                    "evals": int(history[-1]["evals"]) if history else 0,
                    "best": {"evals": first, "y": best[1], "x": [int(v) for v in genome]},
                }
            )
    meta = {
        "version": _ioh_version(),
        "suite": suite,
        "function_id": int(function_id),
        "function_name": function_name,
        "maximization": False,
        "algorithm": {"name": algorithm, "info": info},
        "attributes": ["evaluations", "raw_y"],
        "scenarios": [{"dimension": int(dimension), "path": rel, "runs": meta_runs}],
    }
    path = root / f"IOHprofiler_f{function_id}_{function_name}.json"
    write_json_atomic(path, meta, indent=1)
    return path


def read_ioh_dat(path: str | Path) -> list[list[tuple[int, float]]]:
    """The runs of an IOHprofiler ``.dat`` file, each a list of ``(evaluations, raw_y)``."""
    runs: list[list[tuple[int, float]]] = []
    for line in Path(path).read_text().splitlines():
        if line.startswith("evaluations"):
            runs.append([])
        elif line.strip():
            e, y = line.split()[:2]
            runs[-1].append((int(e), float(y)))
    return runs
