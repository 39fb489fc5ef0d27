"""Collect the best schedule of every agent on sc1-sc5 x {3x3 het-sides, 6x6 het-cross, 2x2
homo-ws} for the exactness test (tests/test_exactness.py): every evaluator must equal the
simulator on them. Searched schedules are where an inexact evaluator and the simulator parted
most, so they are the cases the test must cover.

    python validation/exactness/collect_agent_schedules.py [--evals 300] [--out FILE]

Writes ``tests/data/agent_best_schedules.json`` (atomically): one record per (scenario, mesh,
agent) with the genome of the best schedule found with seed 0 under the exact evaluator.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from costmodel import Problem, mcm, scenario
from search import Budget, run

MESHES = [("het-sides", 3, 3), ("het-cross", 6, 6), ("homo-ws", 2, 2)]
SCENARIOS = ["sc1", "sc2", "sc3", "sc4", "sc5"]
AGENTS = ["random", "scar", "scar-ea", "sa", "ga", "nsga2", "reinforce", "ppo"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--evals", type=int, default=300)
    ap.add_argument("--agents", default=",".join(AGENTS))
    ap.add_argument(
        "--out",
        default=str(Path(__file__).resolve().parents[2] / "tests/data/agent_best_schedules.json"),
    )
    a = ap.parse_args()
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass
    records = []
    for sc in SCENARIOS:
        for pat, r, c in MESHES:
            p = Problem(scenario(sc), mcm(pat, r, c))
            for agent in a.agents.split(","):
                t0 = time.perf_counter()
                res = run(p, agent, Budget(evals=a.evals), seed=0)
                g = p.encode(res.best_schedule)
                records.append(
                    {
                        "scenario": sc,
                        "pattern": pat,
                        "rows": r,
                        "cols": c,
                        "agent": agent,
                        "evals": int(res.n_evals),
                        "objective": float(res.best_fitness),
                        "genome": [int(x) for x in np.asarray(g)],
                    }
                )
                print(
                    f"{sc} {pat} {r}x{c} {agent}: {res.best_fitness:.4g} "
                    f"({time.perf_counter() - t0:.1f} s)",
                    flush=True,
                )
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        json.dump({"evals": a.evals, "seed": 0, "objective": "edp", "records": records}, f)
    os.replace(tmp, out)
    print(f"wrote {len(records)} schedules to {out}")


if __name__ == "__main__":
    main()
