"""The unseeded-track comparison of issue 12 item 4: every agent from its own starts (no baseline
schedule in any first population), median best objective over seeds, per instance and budget.

``python -m search.compare_agents [--budgets 2000 20000] [--seeds 5] [--instances ...]
[--agents ...]`` prints a markdown table (rows: agents; columns: instance x budget; cells: median
(min-max) over seeds ``0..seeds-1``; lower is better) and, under it, each agent's rank per column
and the CPU seconds the whole table took. ``ga``, ``sa`` and ``nsga2`` run with
``seed_baselines=False``; the outside agents (extra ``outside``) always start from random samples.

The reporting instances (:data:`REPORTING`) are held out: the project's agents were tuned on sc2
3x3 het-sides and sc3 6x6 het-cross (and :func:`search.exact.small_instance` seeds 1-3), never
on these.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from costmodel import Problem, mcm, scenario

from .api import run
from .base import Budget
from .registry import AGENTS

#: instance label -> (scenario, mesh pattern, rows, cols); objective EDP
REPORTING: dict[str, tuple[str, str, int, int]] = {
    "sc1-3x3-sides": ("sc1", "het-sides", 3, 3),
    "sc4-3x3-sides": ("sc4", "het-sides", 3, 3),
    "sc5-3x3-sides": ("sc5", "het-sides", 3, 3),
    "sc1-6x6-cross": ("sc1", "het-cross", 6, 6),
    "sc4-6x6-cross": ("sc4", "het-cross", 6, 6),
    "sc5-6x6-cross": ("sc5", "het-cross", 6, 6),
    "sc5x4-16x16-sides": ("sc5x4", "het-sides", 16, 16),
}

#: the agents compared by default (the outside ones need the ``outside`` extra)
DEFAULT_AGENTS = ("random", "ga", "sa", "scar", "scar-ea", "pymoo-ga", "ng-discrete11", "ng-ngopt")

#: agents whose first population may hold the baselines: switched off (the unseeded track)
SEEDABLE = ("ga", "sa", "nsga2")


@dataclass
class Cell:
    """One (agent, instance, budget): the best objective and evaluations used of each seed."""

    best: list[float]
    evals: list[int]

    @property
    def median(self) -> float:
        return float(np.median(self.best))


def problem_of(label: str) -> Problem:
    if label not in REPORTING:
        raise ValueError(f"unknown instance {label!r}; choices: {', '.join(REPORTING)}")
    sc, pattern, rows, cols = REPORTING[label]
    return Problem(scenario(sc), mcm(pattern, rows, cols), objective="edp")


def options_of(agent: str) -> dict[str, Any]:
    return {"seed_baselines": False} if agent in SEEDABLE else {}


def compare(
    instances: list[str], agents: list[str], budgets: list[int], seeds: int, log=None
) -> dict[tuple[str, str, int], Cell]:
    """Run every (agent, instance, budget, seed); ``log(line)`` is told of each finished cell."""
    for a in agents:
        if a not in AGENTS:
            raise ValueError(f"unknown agent {a!r}; choices: {', '.join(AGENTS)}")
    out: dict[tuple[str, str, int], Cell] = {}
    for label in instances:
        p = problem_of(label)
        for b in budgets:
            for a in agents:
                rs = [run(p, a, Budget(evals=b), seed=s, **options_of(a)) for s in range(seeds)]
                cell = Cell([r.best_fitness for r in rs], [r.n_evals for r in rs])
                out[a, label, b] = cell
                if log is not None:
                    log(f"# {label} {b} {a}: median {cell.median:.4g}, evals {cell.evals}")
    return out


def table(cells: dict[tuple[str, str, int], Cell], seeds: int) -> str:
    """Markdown: agents x (instance, budget) medians (min-max), then ranks per column."""
    agents = list(dict.fromkeys(a for a, _, _ in cells))
    cols = list(dict.fromkeys((i, b) for _, i, b in cells))
    head = "| agent | " + " | ".join(f"{i} @{b:,}" for i, b in cols) + " |"
    lines = [
        f"Median best EDP (J s) over seeds 0-{seeds - 1} (min-max), unseeded track; lower is "
        "better. Evaluations used: every run spent its budget unless marked * (fewer).",
        "",
        head,
        "|---" * (len(cols) + 1) + "|",
    ]
    for a in agents:
        row = []
        for i, b in cols:
            c = cells.get((a, i, b))
            if c is None:
                row.append("-")
                continue
            short = "*" if min(c.evals) < b else ""
            row.append(f"{c.median:.4g} ({min(c.best):.3g}-{max(c.best):.3g}){short}")
        lines.append(f"| {a} | " + " | ".join(row) + " |")
    lines += ["", "| agent | " + " | ".join(f"{i} @{b:,}" for i, b in cols) + " |"]
    lines.append("|---" * (len(cols) + 1) + "|")
    ranks = {}
    for i, b in cols:
        med = {a: cells[a, i, b].median for a in agents if (a, i, b) in cells}
        order = sorted(med, key=lambda a: med[a])
        for r, a in enumerate(order, 1):
            ranks[a, i, b] = r
    for a in agents:
        lines.append(
            f"| {a} rank | " + " | ".join(str(ranks.get((a, i, b), "-")) for i, b in cols) + " |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--instances", nargs="+", default=list(REPORTING))
    ap.add_argument("--agents", nargs="+", default=list(DEFAULT_AGENTS))
    ap.add_argument("--budgets", nargs="+", type=int, default=[2000, 20000])
    ap.add_argument("--seeds", type=int, default=5)
    a = ap.parse_args(argv)
    try:
        for label in a.instances:
            problem_of(label)
        for name in a.agents:
            if name not in AGENTS:
                raise ValueError(f"unknown agent {name!r}; choices: {', '.join(AGENTS)}")
        if a.seeds < 1 or any(b < 1 for b in a.budgets):
            raise ValueError("--seeds and --budgets must be positive")
    except ValueError as err:
        print(f"compare_agents: {err}", file=sys.stderr)
        return 2
    t = time.process_time()
    cells = compare(a.instances, a.agents, a.budgets, a.seeds, log=lambda s: print(s, flush=True))
    print(table(cells, a.seeds))
    print(f"\nCPU time: {time.process_time() - t:,.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
