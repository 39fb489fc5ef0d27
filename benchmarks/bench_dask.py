"""A sweep of 8 agent x seed runs: serial in this process, Dask with one local worker, and Dask
with two local workers (each single-threaded), on sc4 on a 3x3 het-sides MCM. The target is two
workers >= 1.6x one worker. ``python benchmarks/bench_dask.py``"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from costmodel import Problem, mcm, scenario
from experiments.benchmark import benchmark
from search import Budget
from search.executors import make_executor


def timed(problem, budget, out, executor=None) -> tuple[float, list]:
    t = time.perf_counter()
    rows = benchmark(problem, ["ga", "sa"], [0, 1, 2, 3], budget, out, executor=executor)
    return time.perf_counter() - t, rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--evals", type=int, default=20000)
    a = ap.parse_args()
    p = Problem(scenario("sc4"), mcm("het-sides", 3, 3))
    b = Budget(evals=a.evals)
    with tempfile.TemporaryDirectory() as d:
        serial, rows = timed(p, b, Path(d) / "serial")
        print(f"serial (this process): {serial:.1f} s for 8 runs of {a.evals} evaluations")
        for workers in (1, 2):
            with make_executor("dask", workers=workers) as ex:
                ex.map(lambda _s, x: x, [0])  # workers up before timing
                t, rows2 = timed(p, b, Path(d) / f"dask{workers}", ex)
            same = [r["best"] for r in rows] == [r["best"] for r in rows2]
            print(f"dask, {workers} local worker(s): {t:.1f} s, identical results: {same}")
            if workers == 1:
                one = t
        print(f"two workers over one: {one / t:.2f}x")


if __name__ == "__main__":
    main()
