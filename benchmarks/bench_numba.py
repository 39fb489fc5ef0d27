"""Schedule evaluations per second on one core: the numba batch evaluator (extra ``fast``), the numpy
batch evaluator and a plain per-schedule Python loop (`Problem.evaluate(decode(g))`, the reference
evaluator), in the same run on the same population.

    python benchmarks/bench_numba.py [--scenario sc4] [--rows 6 --cols 6] [--pop 4096]

The batch evaluators are timed on valid genomes as the backend functions (what
`Problem.evaluate_batch` dispatches to) and through `Problem.evaluate_batch`, which also repairs
the genomes first. The numba figure is after the JIT compile (timed apart; cached on disk after
the first run).
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np

from costmodel import Problem, mcm, scenario
from costmodel.batch import evaluate_batch as numpy_batch


def rate(fn, n_items: int, repeats: int) -> float:
    """Items per second: the median of ``repeats`` timed calls (after one warm-up call)."""
    fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return n_items / float(np.median(times))


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--scenario", default="sc4")
    ap.add_argument("--pattern", default="het-sides")
    ap.add_argument("--rows", type=int, default=6)
    ap.add_argument("--cols", type=int, default=6)
    ap.add_argument("--pop", type=int, default=4096)
    ap.add_argument("--naive", type=int, default=16, help="schedules for the per-schedule loop")
    ap.add_argument("--repeats", type=int, default=5)
    a = ap.parse_args()

    import numba

    from costmodel.numba_batch import evaluate_batch as numba_batch

    p = Problem(scenario(a.scenario), mcm(a.pattern, a.rows, a.cols))
    G = p.sample(a.pop, seed=0)
    print(
        f"# {a.scenario} on {a.pattern} {a.rows}x{a.cols}: {p.n_layers} layers, "
        f"{p.mcm.n_chiplets} chiplets, {len(p.mcm.links)} links, {p.max_windows} windows, "
        f"genome {p.genome_length}, P={a.pop}"
    )
    print(
        f"# {cpu_name()}, {os.cpu_count()} CPUs visible, one process and thread; "
        f"python {platform.python_version()}, numpy {np.__version__}, numba {numba.__version__}"
    )
    t = time.perf_counter()
    numba_batch(p, G[:2])
    print(f"numba first call (JIT compile or cache load): {time.perf_counter() - t:.2f} s")

    nb = rate(lambda: numba_batch(p, G), a.pop, a.repeats)
    nb_p = rate(lambda: p.evaluate_batch(G, backend="numba"), a.pop, a.repeats)
    npy = rate(lambda: numpy_batch(p, G), a.pop, max(1, a.repeats // 2))
    npy_p = rate(lambda: p.evaluate_batch(G, backend="numpy"), a.pop, max(1, a.repeats // 2))
    sub = G[: a.naive]
    naive = rate(lambda: [p.evaluate(p.decode(g)) for g in sub], len(sub), max(1, a.repeats // 2))

    r_nb, r_np = numba_batch(p, G), numpy_batch(p, G)
    worst = max(
        float(np.max(np.abs(x - y) / np.maximum(np.maximum(np.abs(x), np.abs(y)), 1e-300)))
        for x, y in ((getattr(r_nb, f), getattr(r_np, f)) for f in r_nb.__dict__)
    )
    print(f"numba  evaluate_batch (valid genomes):          {nb:12,.0f} schedules/s")
    print(f"numba  Problem.evaluate_batch (repair + eval):  {nb_p:12,.0f} schedules/s")
    print(f"numpy  evaluate_batch (valid genomes):          {npy:12,.0f} schedules/s")
    print(f"numpy  Problem.evaluate_batch (repair + eval):  {npy_p:12,.0f} schedules/s")
    print(f"per-schedule loop (reference evaluator, {len(sub)}):   {naive:12,.0f} schedules/s")
    print(f"numba / numpy: {nb / npy:,.1f}x   numba / loop: {nb / naive:,.0f}x")
    print(f"numba vs numpy, largest relative difference over all fields: {worst:.1e}")


if __name__ == "__main__":
    main()
