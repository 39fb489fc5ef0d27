"""Search wall time against the evaluator's own (issue 12 item 6): a GA of 20,000 evaluations on sc5
replicated to 20 models (sc5x4) on a 16x16 MCM, one process.

Prints, naming the backend: the GA's end-to-end evaluations per second; the evaluator's own rate
inside that same run (evaluations over the wall time spent in ``Problem.evaluate_batch``) and
standalone (the same call on populations of the GA's offspring size, outside any search); their
ratio (the target is >= 70%); the share of the run's wall time in each part of the loop
(children, canonical form and cache, evaluation); and the naive baseline: the same GA whose
populations go through a plain per-schedule loop of the reference evaluator, measured on a
shorter run in the same process and reported per evaluation.
``python benchmarks/bench_search.py [--evals 20000] [--backend numpy|numba] [--seed-baselines]``"""

from __future__ import annotations

import argparse
import time

import numpy as np

from costmodel import Problem, mcm, scenario
from costmodel.backends import default_backend
from search import Budget, run
from search.genetic import GA
from search.operators import GenomeOps

try:
    from benchmarks.timing import machine_line, rate
except ImportError:  # run as a script from benchmarks/
    from timing import machine_line, rate  # type: ignore[no-redef]


class LoopProblem(Problem):
    """The naive baseline: the same problem, evaluating one schedule at a time in Python."""

    def evaluate_batch(self, genomes, backend=None, detail=True, models=False):
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


class Timed:
    """Wall and CPU seconds and calls spent in a wrapped function (CPU time: this process,
    all its threads; a shared machine's load inflates wall time, not CPU time)."""

    def __init__(self, fn) -> None:
        self.fn, self.seconds, self.cpu, self.calls = fn, 0.0, 0.0, 0

    def __call__(self, *a, **k):
        t, c = time.perf_counter(), time.process_time()
        try:
            return self.fn(*a, **k)
        finally:
            self.seconds += time.perf_counter() - t
            self.cpu += time.process_time() - c
            self.calls += 1


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--scenario", default="sc5x4")
    ap.add_argument("--rows", type=int, default=16)
    ap.add_argument("--cols", type=int, default=16)
    ap.add_argument("--evals", type=int, default=20_000)
    ap.add_argument("--naive-evals", type=int, default=200)
    ap.add_argument("--backend", default=None, help="numpy or numba (default: numba if installed)")
    ap.add_argument(
        "--seed-baselines", action="store_true", help="seeded track (default: unseeded)"
    )
    a = ap.parse_args()
    w, m = scenario(a.scenario), mcm("het-sides", a.rows, a.cols)
    p = Problem(w, m)
    backend = a.backend or default_backend()
    fast = p.evaluate_batch

    def pinned(g, backend=None, detail=True, models=False):
        return fast(g, a.backend, detail, models)

    evaluate = Timed(pinned)
    p.evaluate_batch = evaluate  # type: ignore[method-assign]
    canonical = Timed(p.canonical)
    p.canonical = canonical  # type: ignore[method-assign]
    mutate, cross = Timed(GenomeOps.mutate_batch), Timed(GenomeOps.crossover_batch)
    GenomeOps.mutate_batch, GenomeOps.crossover_batch = (  # type: ignore[method-assign]
        lambda self, *x, **k: mutate(self, *x, **k),
        lambda self, *x, **k: cross(self, *x, **k),
    )
    print(machine_line())
    print(
        f"# {a.scenario} ({len(w)} models, {w.n_layers} layers, genome {p.genome_length}) on "
        f"{a.rows}x{a.cols} het-sides, evaluator backend {backend}, move kernels and canonical "
        f"form {default_backend()}, "
        f"{'seeded' if a.seed_baselines else 'unseeded'} GA"
    )
    run(p, "ga", Budget(evals=200), seed=1)  # warm-up: compile, caches
    for t in (evaluate, canonical, mutate, cross):
        t.seconds, t.cpu, t.calls = 0.0, 0.0, 0
    t0, c0 = time.perf_counter(), time.process_time()
    r = run(p, "ga", Budget(evals=a.evals), seed=0, seed_baselines=a.seed_baselines)
    dt, dc = time.perf_counter() - t0, time.process_time() - c0
    ga_rate = a.evals / dt
    in_run = r.n_evals / evaluate.seconds
    lam = int(GA.options["offspring"])
    pop = GenomeOps(p).starts(lam, np.random.default_rng(0))
    alone = rate(lambda: pinned(pop), lam, 20)
    print(
        f"ga {a.evals} evaluations: {dt:.1f} s wall, {dc:.1f} s CPU ({ga_rate:,.0f} evals/s), "
        f"best EDP {r.best_fitness:.4g}"
    )
    print(
        f"evaluator's own rate ({backend}, batches of {lam}): {in_run:,.0f} evals/s inside the run "
        f"({evaluate.calls} calls), {alone:,.0f} evals/s standalone"
    )
    print(
        f"ga end-to-end / evaluator: {ga_rate / in_run:.0%} of its in-run rate, "
        f"{ga_rate / alone:.0%} of its standalone rate; by CPU time "
        f"{evaluate.cpu / dc:.0%} (target >= 70%)"
    )
    parts = (
        ("evaluate", evaluate),
        ("mutation", mutate),
        ("crossover", cross),
        ("canonical form", canonical),
    )
    for label, total, attr in (("wall", dt, "seconds"), ("CPU", dc, "cpu")):
        rest = total - sum(getattr(t, attr) for _, t in parts)
        shares = [f"{k} {getattr(t, attr) / total:.1%}" for k, t in parts]
        print(f"{label} time shares: " + ", ".join(shares) + f", rest {rest / total:.1%}")
    q = LoopProblem(w, m)
    t = time.perf_counter()
    run(q, "ga", Budget(evals=a.naive_evals), seed=0, seed_baselines=a.seed_baselines)
    dn = time.perf_counter() - t
    print(
        f"naive baseline: same GA, per-schedule reference loop, {a.naive_evals} evaluations: "
        f"{dn:.1f} s ({a.naive_evals / dn:,.0f} evals/s; {a.evals} would take "
        f"~{a.evals * dn / a.naive_evals:,.0f} s)"
    )


if __name__ == "__main__":
    main()
