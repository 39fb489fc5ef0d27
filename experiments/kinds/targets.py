"""Kind ``targets``: which per-model latency targets each strategy meets, and at what energy.

Per scenario (with its latency targets: sc6-sc10 carry XRBench's rates, costmodel/zoo_arvr.py) the
homogeneous baselines (standalone and Simba-like, ``ws`` and ``os``) and schedules searched on the
config's patterns for each target objective (``energy@targets``: least energy with every target
met, feasibility first; ``targets-met``: most targets met, then least energy; docs/evaluation.md).
Every figure comes from the exact evaluator; each model's latency against its target
(``Result.model_targets``). Files: ``summary.csv`` (per objective, scenario and strategy: energy,
latency, EDP, targets met, total violation, fitness), ``models.csv`` (per model: latency,
deadline, met, slack), ``targets_met.png`` (a table-heatmap of latency / deadline per model and
strategy, met or missed) and ``energy.png`` (energy per scenario and strategy, with the targets
met), and ``summary.md``.

``compute`` and ``report`` follow :mod:`experiments.kinds` and :mod:`experiments.report`;
:func:`run_targets` is both. The config model is
:class:`experiments.config.TargetsConfig`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from costmodel.config import load_workload

from ..progress import RunProgress
from .common import figures, search_runs, strategy_schedule
from .scar import os_layer_share, placement_rows


@dataclass
class TargetsData:
    """``table``: per objective, scenario and strategy its figures, targets met and share of
    layers on ``os`` chiplets; ``models``: per model its latency against its target and, for a
    searched schedule, its placement (layers on ``os`` chiplets, chiplets, windows)."""

    rows: int
    cols: int
    pes: int
    objectives: list[str]
    table: list[dict]
    models: list[dict]


def objective_folder(objective: str) -> str:
    return objective.replace("@", "-at-")


def _workload(cfg: dict, sc: str):
    spec = cfg["workloads"].get(sc) or {"scenario": sc}
    return load_workload(spec, sc)


def compute(cfg: dict, out: Path, ex=None) -> TargetsData:
    rows_n, cols_n, pes = cfg["rows"], cfg["cols"], cfg["pes"]
    objectives = cfg["objectives"]
    table, models = [], []
    n_search = sum(s.startswith("search:") for s in cfg["strategies"])
    total = len(cfg["scenarios"]) * len(objectives) * n_search * search_runs(cfg)
    with RunProgress(total, cfg["name"]) as bar:
        for obj in objectives:
            for sc in cfg["scenarios"]:
                w = _workload(cfg, sc)
                for strat in cfg["strategies"]:
                    p, sched = strategy_schedule(
                        w,
                        strat,
                        (rows_n, cols_n, pes),
                        obj,
                        cfg,
                        out / objective_folder(obj) / sc,
                        bar,
                        ex,
                    )
                    r = p.evaluate(sched)
                    fit = float(p.objective_of(p.evaluate_batch(p.encode(sched)[None, :]))[0])
                    rep = r.model_targets
                    targeted = [m for m in rep if "deadline_s" in m]
                    lat = np.array([[m["latency_s"] for m in rep]])
                    key = {"objective": obj, "scenario": sc, "strategy": strat}
                    table.append(
                        {
                            **key,
                            **figures(p, sched),
                            "targets": len(targeted),
                            "met": sum(m["met"] for m in targeted),
                            "met_priority": sum(m["priority"] for m in targeted if m["met"]),
                            "priority_total": sum(m["priority"] for m in targeted),
                            "violation": float(p.targets.violation(lat)[0]),
                            "fitness": fit,
                            "os_layer_share": os_layer_share(p, sched),
                        }
                    )
                    place = (
                        {r["model"]: r for r in placement_rows(p, sched)}
                        if strat.startswith("search:")
                        else {}
                    )
                    models += [
                        {
                            **key,
                            **m,
                            **{
                                k: v
                                for k, v in place.get(m["model"], {}).items()
                                if k in ("layers", "layers_on_os", "chiplets", "windows")
                            },
                        }
                        for m in rep
                    ]
    return TargetsData(rows_n, cols_n, pes, objectives, table, models)
