"""Kind ``search`` (the quickstart): the config's agents x seeds on one problem, the best schedule
against the baselines."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from costmodel import Problem, Schedule, baseline_schedule
from search import Budget

from ..benchmark import benchmark
from ..config import build_problem
from ..progress import RunProgress
from .common import figures, search_runs


@dataclass
class SearchData:
    """The runs' rows (:func:`experiments.benchmark.benchmark`), the best run's schedule, its
    figures and the baselines' (``table``), and the NSGA-II runs' Pareto fronts."""

    problem: Problem
    rows: list[dict]
    best: dict
    schedule: Schedule
    table: list[dict]
    fronts: list[dict] = field(default_factory=list)


def compute(cfg: dict, out: Path, ex=None) -> SearchData:
    problem = build_problem(cfg, cfg["objective"], cfg.get("max_windows"))
    with RunProgress(search_runs(cfg), cfg["name"]) as bar:
        rows = benchmark(
            problem,
            cfg["agents"],
            cfg["seeds"],
            Budget(**cfg["budget"]),
            out,
            options=cfg["agent_options"],
            progress=bar,
            executor=ex,
        )
    best = min(rows, key=lambda r: r["best"])
    res = json.loads((out / best["agent"] / f"seed{best['seed']}" / "result.json").read_text())
    schedule = Schedule.from_dict(res["schedule"])
    table = [
        {
            "strategy": f"searched ({best['agent']}, seed {best['seed']})",
            **figures(problem, schedule),
        }
    ]
    for name in cfg["baselines"]:
        try:
            table.append({"strategy": name, **figures(problem, baseline_schedule(problem, name))})
        except ValueError as exc:
            table.append({"strategy": f"{name} (n/a: {exc})"})
    fronts = []
    for seed in cfg["seeds"] if "nsga2" in cfg["agents"] else []:
        f = out / "nsga2" / f"seed{seed}" / "result.json"
        if f.exists():
            fronts += json.loads(f.read_text()).get("pareto", [])
    return SearchData(problem, rows, best, schedule, table, fronts)
