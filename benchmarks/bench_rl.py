"""Seconds per evaluation (one finished episode = one counted schedule) of the RL agents on one
problem, through ``search.run`` as a search uses them: numpy REINFORCE (linear policy, flat
observation), REINFORCE over improvement moves (``reinforce-moves``, Improve-v0), torch REINFORCE with the chiplet-attention policy, and MaskablePPO with sb3's MLP
policy and with the attention policy, both on lockstep environments with batched evaluation
(issue 13: PPO's cost per evaluation within 5x of REINFORCE's). torch runs on ``--threads``.

``python benchmarks/bench_rl.py --scenario sc1 --rows 3 --cols 3 --evals 64``
"""

from __future__ import annotations

import argparse
import time

from costmodel import Problem, mcm, scenario
from search import Budget, agent_class, run

AGENTS: dict[str, tuple[str, dict]] = {
    "reinforce-linear": ("reinforce", {}),
    "reinforce-moves": ("reinforce-moves", {}),
    "reinforce-attention": (
        "reinforce",
        {"policy": "attention", "lr": 1e-3, "episodes_per_update": 16},
    ),
    "ppo-mlp": ("ppo", {}),  # defaults: 8 envs, 64 steps, batch 256
    "ppo-mlp-4x128": ("ppo", {"n_envs": 4, "n_steps": 128, "batch_size": 128}),  # old defaults
    "ppo-attention": (
        "ppo",
        {"policy": "attention", "n_envs": 16, "n_steps": 32, "batch_size": 512, "n_epochs": 2},
    ),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--scenario", default="sc1")
    ap.add_argument("--pattern", default="het-sides")
    ap.add_argument("--rows", type=int, default=3)
    ap.add_argument("--cols", type=int, default=3)
    ap.add_argument("--evals", type=int, default=64)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--agents", nargs="*", default=list(AGENTS), choices=list(AGENTS))
    args = ap.parse_args()
    p = Problem(scenario(args.scenario), mcm(args.pattern, args.rows, args.cols))
    print(
        f"{args.scenario} {args.pattern} {args.rows}x{args.cols}: L={p.n_layers}, "
        f"{args.evals} evaluations, torch threads {args.threads}"
    )
    per = {}
    for label in args.agents:
        algo, opts = AGENTS[label]
        t0 = time.perf_counter()
        if "threads" in agent_class(algo).options:  # torch agents; numpy ones have no threads
            opts = {"threads": args.threads, **opts}
        r = run(p, algo, Budget(evals=args.evals), seed=0, **opts)
        dt = time.perf_counter() - t0
        per[label] = dt / r.n_evals
        print(
            f"{label:22s} {per[label] * 1e3:9.1f} ms/evaluation  best {r.best_fitness:.4g}  "
            f"({r.n_evals} evaluations in {dt:.1f} s, options {opts})"
        )
    if "reinforce-linear" in per:
        base = per["reinforce-linear"]
        for label, v in per.items():
            print(f"{label:22s} {v / base:6.2f}x reinforce-linear")


if __name__ == "__main__":
    main()
