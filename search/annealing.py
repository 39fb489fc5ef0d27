"""Simulated annealing with structure-aware moves (cut points, stages, windows, micro-batches).

Each step proposes ``neighbours`` moves from the current schedule and evaluates them together
(one batch call); the first that passes the Metropolis test on the *relative* change of the
objective is taken. The temperature falls geometrically from ``t0`` to ``t1`` over the budget.
"""

from __future__ import annotations

import numpy as np

from .base import Algorithm, Evaluator
from .genetic import initial_population, progress
from .operators import GenomeOps


class SimulatedAnnealing(Algorithm):
    name = "sa"
    options = {
        "t0": 0.05,
        "t1": 1e-4,
        "neighbours": 8,
        "moves": 1,
        "init_samples": 16,
        "seed_baselines": True,
    }

    def search(self, problem, ev: Evaluator, rng: np.random.Generator) -> None:
        cfg = self.config
        ops = GenomeOps(problem)
        init = initial_population(
            problem, int(cfg["init_samples"]), rng, bool(cfg["seed_baselines"])
        )
        f = ev(init)
        i = int(np.argmin(f))
        cur, fcur = init[i], float(f[i])
        k = int(cfg["neighbours"])
        t0, t1 = float(cfg["t0"]), float(cfg["t1"])
        while not ev.exhausted:
            temp = t0 * (t1 / t0) ** progress(ev)
            cands = np.array([ops.mutate(cur, rng, int(cfg["moves"])) for _ in range(k)])
            fc = ev(cands)
            u = rng.random(len(fc))
            for j in range(len(fc)):
                delta = (fc[j] - fcur) / max(abs(fcur), 1e-300)
                if delta <= 0 or u[j] < np.exp(-delta / temp):
                    cur, fcur = cands[j], float(fc[j])
                    break
