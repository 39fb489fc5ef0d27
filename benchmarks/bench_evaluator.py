"""Schedule evaluations per second of the numpy batch evaluator (the backend every install has)
against the per-schedule reference loop (`Problem.evaluate(decode(g))`), in the same run. The
numba backend has its own benchmark (`bench_numba.py`); this one always measures numpy, whatever
is installed, and says so.

    python benchmarks/bench_evaluator.py [--scenario sc4] [--rows 6 --cols 6] [--pop 1024]
"""

from __future__ import annotations

import argparse

from timing import machine_line, rate

from costmodel import Problem, mcm, scenario


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
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
    print(f"{machine_line()}, one process")
    batch = rate(lambda: p.evaluate_batch(G, backend="numpy"), a.pop, a.repeats)
    sub = G[: a.naive]
    naive = rate(lambda: [p.evaluate(p.decode(g)) for g in sub], len(sub), max(1, a.repeats // 2))
    print(f"backend numpy, evaluate_batch P={a.pop}: {batch:,.0f} schedules/s")
    print(f"per-schedule reference loop (pure Python): {naive:,.0f} schedules/s")
    print(f"speed-up: {batch / naive:,.1f}x")


if __name__ == "__main__":
    main()
