"""Issue 13 item 3 at equal evaluations: the best objective of RL agents, the GA and the baseline
schedules on one problem (default sc4 on 3x3 het-sides, EDP, 2,000 evaluations, seeds 0-4), and
the median over seeds. One JSON line per run is appended to ``--out`` (so runs can be split over
processes and resumed); the summary is printed from everything in that file.

``python benchmarks/bench_rl_targets.py --agents reinforce-attention --seeds 0 1 2 3 4``
``python benchmarks/bench_rl_targets.py --summary``
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from costmodel import Problem, mcm, scenario
from costmodel.baselines import baseline_names, baseline_schedule
from search import Budget, run

AGENTS: dict[str, tuple[str, dict]] = {
    "reinforce-linear": ("reinforce", {}),
    "reinforce-attention": (
        "reinforce",
        {"policy": "attention", "lr": 1e-2, "episodes_per_update": 8, "d_model": 32},
    ),
    "ppo-attention": (
        "ppo",
        {
            "policy": "attention",
            "n_envs": 16,
            "n_steps": 32,
            "batch_size": 512,
            "n_epochs": 2,
            "d_model": 32,
        },
    ),
    "ga": ("ga", {}),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scenario", default="sc4")
    ap.add_argument("--pattern", default="het-sides")
    ap.add_argument("--rows", type=int, default=3)
    ap.add_argument("--cols", type=int, default=3)
    ap.add_argument("--evals", type=int, default=2000)
    ap.add_argument("--agents", nargs="*", default=[], choices=list(AGENTS))
    ap.add_argument("--seeds", nargs="*", type=int, default=[0, 1, 2, 3, 4])
    ap.add_argument("--out", default="rl_targets.jsonl")
    ap.add_argument("--log-root", default=None, help="folder for each run's log_dir")
    ap.add_argument("--summary", action="store_true", help="only print the summary")
    args = ap.parse_args()
    p = Problem(scenario(args.scenario), mcm(args.pattern, args.rows, args.cols), objective="edp")
    out = Path(args.out)
    if not args.summary:
        with out.open("a") as f:
            for label in args.agents:
                algo, opts = AGENTS[label]
                for seed in args.seeds:
                    log = None if args.log_root is None else Path(args.log_root) / f"{label}-{seed}"
                    t = time.perf_counter()
                    r = run(p, algo, Budget(evals=args.evals), seed=seed, log_dir=log, **opts)
                    rec = {
                        "agent": label,
                        "seed": seed,
                        "best": r.best_fitness,
                        "evals": r.n_evals,
                        "seconds": time.perf_counter() - t,
                    }
                    f.write(json.dumps(rec) + "\n")
                    f.flush()
    base = {}
    for name in baseline_names(tuple(sorted({c.dataflow for c in p.mcm.classes}))):
        base[name] = float(p.fitness(p.encode(baseline_schedule(p, name))[None, :])[0])
    best_base = min(base, key=base.get)
    print(f"{args.scenario} {args.pattern} {args.rows}x{args.cols}, EDP, {args.evals} evaluations")
    print(f"best baseline: {best_base} {base[best_base]:.4g}")
    runs: dict[str, list[float]] = {}
    if out.is_file():
        for line in out.read_text().splitlines():
            rec = json.loads(line)
            runs.setdefault(rec["agent"], []).append(rec["best"])
    for label, vals in runs.items():
        med = statistics.median(vals)
        print(
            f"{label:22s} median {med:.4g} over {len(vals)} seeds ({', '.join(f'{v:.4g}' for v in vals)}); "
            f"{med / base[best_base]:.2f}x the best baseline"
        )


if __name__ == "__main__":
    main()
