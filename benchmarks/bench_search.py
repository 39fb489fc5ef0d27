"""Search wall time: a GA of 20,000 evaluations on sc5 replicated to 20 models (sc5x4) on a 16x16
MCM, one core, against the same GA whose populations go through a plain per-schedule loop of
the reference evaluator (measured on a shorter run in the same process and reported per
evaluation). ``python benchmarks/bench_search.py [--evals 20000] [--backend numpy|numba]``"""

from __future__ import annotations

import argparse
import time

import numpy as np

from costmodel import Problem, mcm, scenario
from costmodel.backends import default_backend
from search import Budget, run


class LoopProblem(Problem):
    """The naive baseline: the same problem, evaluating one schedule at a time in Python."""

    def evaluate_batch(self, genomes, backend=None, detail=True):
        from costmodel import BatchResult

        rows = [self.evaluate(self.decode(g)) for g in self.repair(np.asarray(genomes))]
        return BatchResult(
            latency_s=np.array([r.latency_s for r in rows]),
            energy_j=np.array([r.energy_j for r in rows]),
            energy_compute_j=np.array([r.energy_breakdown_j["compute"] for r in rows]),
            energy_onchip_j=np.array([r.energy_breakdown_j["onchip"] for r in rows]),
            energy_nop_j=np.array([r.energy_breakdown_j["nop"] for r in rows]),
            energy_dram_j=np.array([r.energy_breakdown_j["dram"] for r in rows]),
            edp=np.array([r.edp for r in rows]),
            throughput=np.array([r.throughput for r in rows]),
            window_latency_s=np.array([r.window_latency_s for r in rows]),
            chiplet_busy_s=np.array([r.chiplet_busy_s for r in rows]),
            link_bytes=np.array([list(r.link_bytes.values()) for r in rows]),
            dram_bytes=np.array([r.dram_bytes for r in rows]),
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--scenario", default="sc5x4")
    ap.add_argument("--rows", type=int, default=16)
    ap.add_argument("--cols", type=int, default=16)
    ap.add_argument("--evals", type=int, default=20_000)
    ap.add_argument("--naive-evals", type=int, default=200)
    ap.add_argument("--backend", default=None, help="numpy or numba (default: numba if installed)")
    a = ap.parse_args()
    w, m = scenario(a.scenario), mcm("het-sides", a.rows, a.cols)
    p = Problem(w, m)
    if a.backend:
        fast = p.evaluate_batch

        def pinned(g, backend=None, detail=True):
            return fast(g, a.backend, detail)

        p.evaluate_batch = pinned  # type: ignore[method-assign]
    backend = a.backend or default_backend()
    print(
        f"# {a.scenario} ({len(w)} models, {w.n_layers} layers) on {a.rows}x{a.cols} het-sides, "
        f"backend {backend}"
    )
    t = time.perf_counter()
    r = run(p, "ga", Budget(evals=a.evals), seed=0)
    dt = time.perf_counter() - t
    print(
        f"ga {a.evals} evaluations: {dt:.1f} s wall ({a.evals / dt:,.0f} evals/s), "
        f"best EDP {r.best_fitness:.4g}"
    )
    q = LoopProblem(w, m)
    t = time.perf_counter()
    run(q, "ga", Budget(evals=a.naive_evals), seed=0)
    dn = time.perf_counter() - t
    print(
        f"same GA, per-schedule reference loop, {a.naive_evals} evaluations: {dn:.1f} s "
        f"({a.naive_evals / dn:,.0f} evals/s; {a.evals} would take ~{a.evals * dn / a.naive_evals:,.0f} s)"
    )


if __name__ == "__main__":
    main()
