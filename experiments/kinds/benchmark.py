"""Kind ``benchmark``: agents x seeds with equal budgets on each of the config's problems, with
the exact optimum where the problem is small enough to enumerate."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from costmodel import Schedule, simulate
from search import Budget
from search.suite import baseline_values

from ..benchmark import benchmark
from ..config import build_problem
from ..progress import RunProgress
from .common import search_runs


@dataclass
class BenchmarkProblem:
    """One problem's runs (:func:`experiments.benchmark.benchmark` rows, with the simulator's
    latency of each run's best schedule), its exact optimum if it was computed, and the
    objective of every SCAR baseline schedule (:func:`search.suite.baseline_values`)."""

    name: str
    rows: list[dict]
    optimum: float | None = None
    baselines: dict[str, float] = field(default_factory=dict)

    @property
    def best_baseline(self) -> tuple[str, float]:
        """The baseline with the lowest objective: ``(name, objective)``."""
        return min(self.baselines.items(), key=lambda kv: kv[1])

    def bests_by_agent(self) -> dict[str, list[float]]:
        """Each agent's best objective per run, agents in the order they ran."""
        out: dict[str, list[float]] = {}
        for r in self.rows:
            out.setdefault(r["agent"], []).append(r["best"])
        return out


def compute(cfg: dict, out: Path, ex=None) -> list[BenchmarkProblem]:
    done = []
    for name, spec in cfg["problems"].items():
        optimum = None
        if "small_instance" in spec:
            from search.exact import optimum as exact_optimum
            from search.exact import small_instance

            problem = small_instance(int(spec["small_instance"]), objective=cfg["objective"])
            optimum = exact_optimum(problem)[1]
        else:
            problem = build_problem(spec, cfg["objective"], cfg.get("max_windows"))
        with RunProgress(search_runs(cfg), name) as bar:
            rows = benchmark(
                problem,
                cfg["agents"],
                cfg["seeds"],
                Budget(**cfg["budget"]),
                out / name,
                optimum=optimum,
                options=cfg["agent_options"],
                progress=bar,
                executor=ex,
            )
        for i, r in enumerate(rows):  # the simulator's latency beside each run's best schedule
            d = out / name / r["agent"] / f"seed{r['seed']}"
            sched = Schedule.from_dict(json.loads((d / "result.json").read_text())["schedule"])
            items = list(r.items())
            at = [k for k, _ in items].index("latency_s") + 1
            sim = simulate(problem, sched).latency_s
            rows[i] = dict(items[:at] + [("simulated_latency_s", sim)] + items[at:])
        done.append(BenchmarkProblem(name, rows, optimum, baseline_values(problem)))
    return done
