"""Steps per second of ``chiplet_sched/Mapping-v0`` on sc4, a 6x6 het-sides MCM, with masked random
actions (the target is >= 2,000 steps/s). Plain script: ``python benchmarks/bench_env.py``
(``--obs dict`` for the size-independent observation; RL agents' cost: bench_rl.py)."""

from __future__ import annotations

import argparse
import time

import gymnasium
import numpy as np

from costmodel import Schedule
from env.mapping import MappingEnv  # importing env.* registers the environments


def run(env: gymnasium.Env, steps: int, seed: int) -> tuple[float, int, float]:
    """Steps/s, finished episodes and their mean final reward over ``steps`` masked random steps
    (the mask and the numpy Generator draw are part of the timed loop, as in a real agent)."""
    rng = np.random.default_rng(seed)
    masks = env.unwrapped.action_masks
    env.reset(seed=seed)
    rewards = []
    t0 = time.perf_counter()
    for _ in range(steps):
        action = rng.choice(np.flatnonzero(masks()))
        _, reward, terminated, truncated, _ = env.step(action)
        if terminated or truncated:
            rewards.append(reward)
            env.reset()
    dt = time.perf_counter() - t0
    return steps / dt, len(rewards), float(np.mean(rewards)) if rewards else float("nan")


def naive(problem, steps: int, seed: int) -> float:
    """The plain per-schedule loop the env replaces: build a random schedule layer by layer in
    Python (each layer on a random chiplet, windows closed at random) and score every finished
    schedule with the reference evaluator (``problem.evaluate``); steps/s, one step per layer."""
    rng = np.random.default_rng(seed)
    n, W = problem.mcm.n_chiplets, problem.max_windows
    done = 0
    t0 = time.perf_counter()
    while done < steps:
        window, chiplet, micro = [], [], []
        for m, mod in enumerate(problem.workload.models):
            w, ws, cs = 0, [], []
            for _ in mod.layers:
                if w < W - 1 and rng.random() < 0.01:
                    w += 1
                ws.append(w)
                cs.append(int(rng.integers(n)))
                done += 1
            window.append(ws)
            chiplet.append(cs)
            micro.append({x: problem.mb_options[m][0] for x in set(ws)})
        problem.evaluate(Schedule(window, chiplet, micro))
    return done / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--scenario", default="sc4")
    ap.add_argument("--rows", type=int, default=6)
    ap.add_argument("--cols", type=int, default=6)
    ap.add_argument("--pattern", default="het-sides")
    ap.add_argument("--steps", type=int, default=20_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--obs", default="flat", choices=["flat", "dict"], help="observation layout")
    args = ap.parse_args()

    t0 = time.perf_counter()
    env = MappingEnv(
        scenario=args.scenario, pattern=args.pattern, rows=args.rows, cols=args.cols, obs=args.obs
    )
    build_s = time.perf_counter() - t0
    p = env.problem
    print(
        f"Mapping-v0 {args.scenario} {args.pattern} {args.rows}x{args.cols}: L={p.n_layers} "
        f"M={p.n_models} W={p.max_windows} n={p.mcm.n_chiplets} obs={args.obs} "
        f"{env.observation_space.shape or ''}"
    )
    print(f"construction (cost table + reference): {build_s:.3f} s")
    wrapped = gymnasium.make("chiplet_sched/Mapping-v0", problem=p, obs=args.obs)
    for name, e in (("MappingEnv", env), ("gymnasium.make (with wrappers)", wrapped)):
        steps_s, episodes, mean_r = run(e, args.steps, args.seed)
        print(
            f"{name}: {args.steps} steps, {steps_s:,.0f} steps/s (masked random actions), "
            f"{episodes} episodes, mean final reward {mean_r:.4f}"
        )
    base = naive(p, min(args.steps, 5 * p.n_layers), args.seed)
    print(f"naive per-schedule Python loop + reference evaluator: {base:,.0f} steps/s")


if __name__ == "__main__":
    main()
