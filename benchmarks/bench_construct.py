"""Seconds to build ``--samples`` schedules with the shipped constructive policy
(``search.construct.rollout``: every sample in lockstep, one batched forward pass per step),
beside the naive way measured in the same run (one sample at a time, one forward pass per step
per sample), and beside evaluating the same schedules. Backend: torch on CPU, ``--threads``
threads; the exact evaluator as ``Problem.evaluate_batch`` picks it (numba when installed).

``python benchmarks/bench_construct.py --scenario sc4 --rows 3 --cols 3 --samples 16``
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from costmodel import Problem, mcm, scenario
from search.construct import SHIPPED_CONSTRUCT, load_policy, policy_env, read_weights, rollout


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--scenario", default="sc4")
    ap.add_argument("--pattern", default="het-sides")
    ap.add_argument("--rows", type=int, default=3)
    ap.add_argument("--cols", type=int, default=3)
    ap.add_argument("--samples", type=int, default=16)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    p = Problem(scenario(a.scenario), mcm(a.pattern, a.rows, a.cols))
    net = load_policy(read_weights(SHIPPED_CONSTRUCT), p)
    env = policy_env(p)
    rollout(env, 2, np.random.default_rng(0), net)  # warm-up (torch, numba)
    t = time.perf_counter()
    batched = rollout(env, a.samples, np.random.default_rng(1), net)
    t_batched = time.perf_counter() - t
    t = time.perf_counter()
    for k in range(a.samples):  # naive: each sample alone
        rollout(env, 1, np.random.default_rng([1, k]), net, greedy_first=k == 0)
    t_naive = time.perf_counter() - t
    t = time.perf_counter()
    p.evaluate_batch(batched)
    t_eval = time.perf_counter() - t
    steps = len(env.actions_for(batched[0]))
    print(
        f"{a.scenario} on {a.pattern} {a.rows}x{a.cols}: {p.n_layers} layers, ~{steps} decisions "
        f"a schedule, {a.samples} samples, torch CPU on {a.threads} thread(s)"
    )
    print(f"  lockstep (one batched forward pass a step): {t_batched:8.3f} s")
    print(
        f"  naive (one sample at a time)              : {t_naive:8.3f} s ({t_naive / t_batched:.1f}x)"
    )
    print(f"  evaluating them (one batch)               : {1e3 * t_eval:8.3f} ms")


if __name__ == "__main__":
    main()
