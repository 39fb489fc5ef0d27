"""Agents x seeds on one problem with equal budgets: a CSV of final objectives and
time-to-quality, and fitness curves. Each run writes its own ``history.jsonl`` and ``result.json``
under ``out/<agent>/seed<k>/``; a rerun with the same folder reuses a run only when both files
are complete and its ``run_hash`` is the one of this run's resolved config (problem, agent,
options, budget, seed), and recomputes every other (torn, missing, or from another config)."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np

from costmodel import Problem
from costmodel.files import atomic_open
from search import Budget, make_agent, run, run_hash

from .plots import fitness_curves

CSV_FIELDS = [
    "agent",
    "seed",
    "best",
    "evals",
    "seconds",
    "evals_to_1pct",
    "evals_to_5pct",
    "seconds_to_1pct",
    "seconds_to_5pct",
    "gap_to_best_known",
    "gap_to_optimum",
    "latency_s",
    "energy_j",
    "edp",
]


@dataclass
class BenchmarkRun:
    agent: str
    seed: int
    result: dict
    history: list[dict]
    reused: bool = False  # finished before with the same run_hash, not recomputed


@dataclass
class RunTally:
    """Runs reused, recomputed and failed since the last :meth:`reset` (in this process)."""

    reused: int = 0
    recomputed: int = 0
    failed: int = 0

    def reset(self) -> None:
        self.reused = self.recomputed = self.failed = 0

    def count(self, results: list) -> None:
        """Count the results of an executor's map of :func:`run_one` tasks."""
        for r in results:
            if isinstance(r, BenchmarkRun):
                self.reused += r.reused
                self.recomputed += not r.reused
            else:
                self.failed += 1

    def line(self) -> str:
        failed = f", {self.failed} failed" if self.failed else ""
        return f"runs: {self.reused} reused, {self.recomputed} recomputed{failed}"


#: what ``chiplet-sched run`` and ``benchmark`` report when they finish
TALLY = RunTally()


def _load_history(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def load_finished(
    d: Path, expected_hash: str, history: str = "calls"
) -> tuple[dict, list[dict]] | None:
    """The result and history of the run in ``d`` if it finished under ``expected_hash`` (both
    files complete, the history ending at the result's evaluations, and holding every call when
    ``history`` asks for them); ``None`` if it is torn, missing, thinner than asked or from
    another config."""
    try:
        res = json.loads((d / "result.json").read_text())
        hist = _load_history(d / "history.jsonl")
    except (OSError, ValueError):  # missing, unreadable, torn (JSONDecodeError is a ValueError)
        return None
    if not isinstance(res, dict) or res.get("run_hash") != expected_hash:
        return None
    if history == "calls" and res.get("history", "calls") != "calls":
        return None  # an improvement-only history cannot serve a run that wants every call
    if not hist or not isinstance(hist[-1], dict) or hist[-1].get("evals") != res.get("evals"):
        return None
    return res, hist


def finished_run(
    problem: Problem,
    agent: str,
    seed: int,
    budget: Budget,
    out: Path,
    options: dict | None = None,
    history: str = "calls",
) -> BenchmarkRun | None:
    """The run of ``agent`` with ``seed`` in ``out/<agent>/seed<k>`` if it finished under the
    same resolved config (:func:`load_finished`), else ``None``; computes nothing."""
    algo = make_agent(agent, **(options or {}))
    found = load_finished(
        out / agent / f"seed{seed}", run_hash(problem, algo, budget, seed), history
    )
    return None if found is None else BenchmarkRun(agent, seed, *found, reused=True)


def run_one(
    problem: Problem,
    agent: str,
    seed: int,
    budget: Budget,
    out: Path,
    options: dict | None = None,
    progress: Callable[[int, float], None] | None = None,
    history: str = "calls",
) -> BenchmarkRun:
    """Run ``agent`` with ``seed`` into ``out/<agent>/seed<k>``, or reuse the run there if it
    finished under the same resolved config (:func:`load_finished`); ``progress`` and
    ``history`` as in :func:`search.run`."""
    found = finished_run(problem, agent, seed, budget, out, options, history)
    if found is not None:
        return found
    d = out / agent / f"seed{seed}"
    algo = make_agent(agent, **(options or {}))
    r = run(problem, algo, budget, seed=seed, log_dir=d, progress=progress, history=history)
    return BenchmarkRun(agent, seed, json.loads((d / "result.json").read_text()), r.history)


def first_reaching(history: list[dict], target: float, key: str) -> float:
    for h in history:
        if h["best"] <= target:
            return float(h[key])
    return float("nan")


def _run_task(problem: Problem, task: tuple, history: str = "calls") -> BenchmarkRun:
    agent, seed, budget, out, options, *progress = task  # progress: serial executor only
    return run_one(problem, agent, seed, budget, out, options, *progress, history=history)


def run_tasks(
    problem: Problem, tasks: list[tuple], executor=None, progress=None, history: str = "calls"
) -> list:
    """Run ``(agent, seed, budget, out, options)`` tasks on ``executor`` (serial by default),
    counted in :data:`TALLY`, each keeping ``history`` (:func:`search.run`); a
    :class:`experiments.progress.RunProgress` is told as each run finishes and, for runs in
    this process, how each run goes."""
    from search.executors import SerialExecutor, TaskFailure

    executor = executor or SerialExecutor()
    if progress is not None and executor.name == "serial":
        tasks = [(*t, progress.within(f"{t[0]} seed {t[1]}", t[2].evals)) for t in tasks]

    def done(i: int, r) -> None:
        best = None if isinstance(r, TaskFailure) else r.result["best"]
        progress.finished(f"{tasks[i][0]} seed {tasks[i][1]}", best)

    fn = _run_task if history == "calls" else partial(_run_task, history=history)
    results = executor.map(fn, tasks, shared=problem, on_done=progress and done)
    TALLY.count(results)
    return results


def benchmark(
    problem: Problem,
    agents: list[str],
    seeds: list[int],
    budget: Budget,
    out: str | Path,
    optimum: float | None = None,
    options: dict[str, dict] | None = None,
    progress=None,
    executor=None,
) -> list[dict]:
    """Run every agent with every seed (on ``executor``: serial by default), write
    ``benchmark.csv`` and ``fitness_curves.png``. Runs that fail are reported in the CSV with
    their error; finished runs of the same config are reused (:func:`run_one`); ``progress``:
    a :class:`experiments.progress.RunProgress` (:func:`run_tasks`)."""
    from search.executors import TaskFailure

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    tasks = [(a, s, budget, out, (options or {}).get(a)) for a in agents for s in seeds]
    results = run_tasks(problem, tasks, executor, progress)
    runs = [r for r in results if not isinstance(r, TaskFailure)]
    failed = [
        {"agent": tasks[r.index][0], "seed": tasks[r.index][1], "status": r.error}
        for r in results
        if isinstance(r, TaskFailure)
    ]
    if not runs:
        raise RuntimeError(f"every run failed; first: {failed[0]['status']}")
    best_known = min(r.result["best"] for r in runs)
    if optimum is not None:
        best_known = min(best_known, optimum)
    rows = []
    for r in runs:
        res = r.result
        rows.append(
            {
                "agent": r.agent,
                "seed": r.seed,
                "best": res["best"],
                "evals": res["evals"],
                "seconds": res["seconds"],
                "evals_to_1pct": first_reaching(r.history, best_known * 1.01, "evals"),
                "evals_to_5pct": first_reaching(r.history, best_known * 1.05, "evals"),
                "seconds_to_1pct": first_reaching(r.history, best_known * 1.01, "seconds"),
                "seconds_to_5pct": first_reaching(r.history, best_known * 1.05, "seconds"),
                "gap_to_best_known": res["best"] / best_known - 1,
                "gap_to_optimum": (res["best"] / optimum - 1) if optimum else float("nan"),
                "latency_s": res.get("latency_s"),
                "energy_j": res.get("energy_j"),
                "edp": res.get("edp"),
                "status": "ok",
            }
        )
    with atomic_open(out / "benchmark.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=[*CSV_FIELDS, "status"], restval="")
        w.writeheader()
        w.writerows(rows + failed)
    curves = {a: [r.history for r in runs if r.agent == a] for a in agents}
    obj = problem.objective if isinstance(problem.objective, str) else "objective"
    fitness_curves(
        curves,
        out / "fitness_curves.png",
        title=f"{problem.workload.name} on {problem.mcm.name}: best {obj}",
        ylabel=f"best {obj}",
    )
    return rows


def summarize(rows: list[dict]) -> list[dict]:
    """Per agent: median, min and max of the final objective over seeds, and the median gap."""
    out = []
    for agent in dict.fromkeys(r["agent"] for r in rows):
        b = np.array([r["best"] for r in rows if r["agent"] == agent])
        gap = np.array([r["gap_to_best_known"] for r in rows if r["agent"] == agent])
        out.append(
            {
                "agent": agent,
                "seeds": len(b),
                "median": float(np.median(b)),
                "min": float(b.min()),
                "max": float(b.max()),
                "median_gap": float(np.median(gap)),
            }
        )
    return out
