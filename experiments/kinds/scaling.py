"""Kind ``scaling``: evaluator speed and search time as chiplets, models and layers grow."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from costmodel import Problem, mcm, scenario
from search import Budget

from ..benchmark import benchmark
from ..progress import RunProgress
from .common import search_runs

SIZE_KEYS = {"rows", "cols", "scenario"}


def rate(problem: Problem, genomes: np.ndarray, backend: str, repeats: int = 3) -> float:
    """Evaluations per second of ``evaluate_batch`` (best of ``repeats``, after a warm-up)."""
    problem.evaluate_batch(genomes, backend)
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        problem.evaluate_batch(genomes, backend)
        best = min(best, time.perf_counter() - t)
    return len(genomes) / best


def compute(cfg: dict, out: Path, ex=None) -> list[dict]:
    """One row per size: the MCM and workload's dimensions, evaluations per second (numpy, and
    numba when installed), the best objective and the median search times."""
    from costmodel.backends import numba_available

    rows = []
    sizes = cfg["sizes"]
    with RunProgress(len(sizes) * search_runs(cfg), cfg["name"]) as bar:
        for size in sizes:
            if not isinstance(size, dict) or set(size) != SIZE_KEYS:
                raise ValueError(f"scaling size must have keys {sorted(SIZE_KEYS)}, got {size}")
            m = mcm(cfg["pattern"], size["rows"], size["cols"])
            p = Problem(
                scenario(size["scenario"]),
                m,
                objective=cfg["objective"],
                max_windows=cfg.get("max_windows"),
            )
            G = p.sample(int(cfg["population"]), seed=0)
            row = {
                "mcm": f"{m.rows}x{m.cols}",
                "chiplets": m.n_chiplets,
                "scenario": size["scenario"],
                "models": p.n_models,
                "layers": p.n_layers,
                "genome": p.genome_length,
                "numpy_evals_s": rate(p, G, "numpy"),
            }
            if numba_available():
                row["numba_evals_s"] = rate(p, G, "numba")
            rs = benchmark(
                p,
                cfg["agents"],
                cfg["seeds"],
                Budget(**cfg["budget"]),
                out / f"{m.rows}x{m.cols}",
                options=cfg["agent_options"],
                progress=bar,
                executor=ex,
            )
            row["best"] = min(r["best"] for r in rs)
            row["median_seconds_to_5pct"] = float(np.nanmedian([r["seconds_to_5pct"] for r in rs]))
            row["median_search_seconds"] = float(np.median([r["seconds"] for r in rs]))
            rows.append(row)
    return rows
