"""Schedule evaluations per second of the numba batch evaluator (extra ``fast``), beside one
thread of it, the numpy batch evaluator and the per-schedule reference loop, in the same run on
the same random population.

    python benchmarks/bench_numba.py [--scenario sc4] [--rows 6 --cols 6] [--pop 4096]

Every figure goes through ``Problem.evaluate_batch`` (raw genomes: the repair is part of the
work; numba repairs inside the kernel). ``fitness-only`` is ``detail=False`` (what
``Problem.fitness`` uses): no per-window, per-chiplet, per-link arrays. Numba figures are after
the JIT compile (timed apart; cached on disk after the first run). Target (issue 10): >= 150,000
schedules/s on sc4, 6x6 het-sides, P = 4096, on this project's 2-core machine.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from timing import machine_line, rate

from costmodel import Problem, mcm, scenario


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default="sc4")
    ap.add_argument("--pattern", default="het-sides")
    ap.add_argument("--rows", type=int, default=6)
    ap.add_argument("--cols", type=int, default=6)
    ap.add_argument("--pop", type=int, default=4096)
    ap.add_argument("--naive", type=int, default=16, help="schedules for the per-schedule loop")
    ap.add_argument("--repeats", type=int, default=7)
    a = ap.parse_args()

    import numba

    p = Problem(scenario(a.scenario), mcm(a.pattern, a.rows, a.cols))
    G = p.sample(a.pop, seed=0)
    threads = numba.get_num_threads()
    print(
        f"# {a.scenario} on {a.pattern} {a.rows}x{a.cols}: {p.n_layers} layers, "
        f"{p.mcm.n_chiplets} chiplets, {len(p.mcm.links)} links, {p.max_windows} windows, "
        f"genome {p.genome_length}, P={a.pop} random schedules"
    )
    print(f"{machine_line()}, numba {numba.__version__} ({threads} threads)")
    t = time.perf_counter()
    p.evaluate_batch(G[:2], backend="numba")
    print(f"numba first call (JIT compile or cache load): {time.perf_counter() - t:.2f} s")

    def numba_rate(n_threads: int, detail: bool) -> float:
        numba.set_num_threads(n_threads)
        try:
            return rate(
                lambda: p.evaluate_batch(G, backend="numba", detail=detail), a.pop, a.repeats
            )
        finally:
            numba.set_num_threads(threads)

    nb_fit = numba_rate(threads, False)
    nb_full = numba_rate(threads, True)
    nb_one = numba_rate(1, False)
    npy = rate(lambda: p.evaluate_batch(G, backend="numpy"), a.pop, max(1, a.repeats // 3))
    sub = G[: a.naive]
    naive = rate(lambda: [p.evaluate(p.decode(g)) for g in p.repair(sub)], len(sub), 2)
    r_nb, r_np = p.evaluate_batch(G, backend="numba"), p.evaluate_batch(G, backend="numpy")
    worst = max(
        float(np.max(np.abs(x - y) / np.maximum(np.maximum(np.abs(x), np.abs(y)), 1e-300)))
        for x, y in ((getattr(r_nb, f), getattr(r_np, f)) for f in r_nb.__dict__)
    )
    print(f"numba, {threads} threads, fitness-only:     {nb_fit:12,.0f} schedules/s")
    print(f"numba, {threads} threads, full detail:      {nb_full:12,.0f} schedules/s")
    print(f"numba, 1 thread, fitness-only:       {nb_one:12,.0f} schedules/s")
    print(f"numpy batch, full detail:            {npy:12,.0f} schedules/s")
    print(f"per-schedule reference loop ({len(sub)}):    {naive:12,.0f} schedules/s")
    print(
        f"numba {threads} threads / 1 thread: {nb_fit / nb_one:.2f}x   numba / numpy: "
        f"{nb_fit / npy:,.0f}x   numba / reference loop: {nb_fit / naive:,.0f}x"
    )
    print(f"numba vs numpy, largest relative difference over all fields: {worst:.1e}")
    print(f"target >= 150,000 schedules/s: {'met' if nb_fit >= 150_000 else 'MISSED'}")


if __name__ == "__main__":
    main()
