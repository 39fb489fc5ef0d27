"""Schedule evaluations per second: the vectorized `evaluate_batch` against a plain per-schedule
Python loop (`Problem.evaluate(decode(g))`, the reference evaluator), in the same run.

    python benchmarks/bench_evaluator.py [--scenario sc4] [--rows 6 --cols 6] [--pop 1024]
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np

from costmodel import Problem, mcm, scenario


def rate(fn, n_items: int, repeats: int) -> float:
    """Items per second: the median of ``repeats`` timed calls (after one warm-up call)."""
    fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return n_items / float(np.median(times))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--scenario", default="sc4")
    ap.add_argument("--pattern", default="het-sides")
    ap.add_argument("--rows", type=int, default=6)
    ap.add_argument("--cols", type=int, default=6)
    ap.add_argument("--pop", type=int, default=1024)
    ap.add_argument("--naive", type=int, default=16, help="schedules for the per-schedule loop")
    ap.add_argument("--repeats", type=int, default=5)
    a = ap.parse_args()
    p = Problem(scenario(a.scenario), mcm(a.pattern, a.rows, a.cols))
    G = p.sample(a.pop, seed=0)
    print(
        f"# {a.scenario} on {a.pattern} {a.rows}x{a.cols}: {p.n_layers} layers, "
        f"{p.mcm.n_chiplets} chiplets, {p.max_windows} windows, genome {p.genome_length}"
    )
    print(f"# {platform.processor() or platform.machine()}, numpy {np.__version__}, one process")
    batch = rate(lambda: p.evaluate_batch(G), a.pop, a.repeats)
    sub = G[: a.naive]
    naive = rate(lambda: [p.evaluate(p.decode(g)) for g in sub], len(sub), max(1, a.repeats // 2))
    print(f"evaluate_batch P={a.pop}: {batch:,.0f} schedules/s")
    print(f"per-schedule loop (reference evaluator): {naive:,.0f} schedules/s")
    print(f"speed-up: {batch / naive:,.1f}x")


if __name__ == "__main__":
    main()
