"""What several kinds share: a schedule's figures, the baselines by name, searched problems."""

from __future__ import annotations

from pathlib import Path

from costmodel import Problem, Schedule, Workload, baseline_schedule, mcm, simulate
from search import Budget

from ..benchmark import run_tasks
from ..progress import RunProgress


def figures(problem: Problem, schedule) -> dict:
    """A schedule's figures from the exact evaluator, with the discrete-event simulator's
    latency beside them (equal by construction and by test: docs/evaluation.md)."""
    r = problem.evaluate(schedule)
    return {
        "latency_s": r.latency_s,
        "simulated_latency_s": simulate(problem, schedule, r).latency_s,
        "energy_j": r.energy_j,
        "edp": r.edp,
        "throughput": r.throughput,
    }


def searched(
    problem: Problem, cfg: dict, out: Path, progress: RunProgress | None = None, executor=None
) -> tuple[dict, Schedule]:
    """Run the config's agents x seeds on ``problem`` under ``out`` (on ``executor``); the best
    run's result and schedule."""
    from search.executors import TaskFailure

    budget = Budget(**cfg["budget"])
    tasks = [
        (a, s, budget, out, cfg["agent_options"].get(a))
        for a in cfg["agents"]
        for s in cfg["seeds"]
    ]
    results = run_tasks(problem, tasks, executor, progress)
    runs = [r for r in results if not isinstance(r, TaskFailure)]
    if not runs:
        raise RuntimeError(f"every search run under {out} failed")
    best = min(runs, key=lambda r: r.result["best"])
    return best.result, Schedule.from_dict(best.result["schedule"])


def search_runs(cfg: dict) -> int:
    """Agent x seed runs per searched problem."""
    return len(cfg["agents"]) * len(cfg["seeds"])


def strategy_schedule(
    w: Workload,
    strategy: str,
    mesh: tuple[int, int, int],
    objective: str,
    cfg: dict,
    folder: Path,
    progress: RunProgress | None = None,
    executor=None,
) -> tuple[Problem, Schedule]:
    """A ``scar``/``targets`` strategy on ``mesh`` = (rows, cols, PEs per chiplet): for
    ``search:<pattern>`` the best schedule the config's agents find on that pattern (runs under
    ``folder/<pattern>``); for a baseline name (``simba-ws``, ...) its schedule on the homogeneous
    MCM of its dataflow."""
    rows, cols, pes = mesh
    if strategy.startswith("search:"):
        pattern = strategy.split(":", 1)[1]
    else:
        pattern = f"homo-{strategy.partition('-')[2]}"
    p = Problem(
        w,
        mcm(pattern, rows, cols, pes=pes),
        objective=objective,
        max_windows=cfg.get("max_windows"),
    )
    if strategy.startswith("search:"):
        return p, searched(p, cfg, folder / pattern, progress, executor)[1]
    return p, baseline_schedule(p, strategy)
