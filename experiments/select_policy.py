"""Pick the shipped policy among trained checkpoints by how they do on problems none of them was
trained on (issue 13, item 4: one training run is a noisy estimate of what the recipe gives).

Each candidate checkpoint (``experiments.train_policy`` outputs, e.g. the same config with other
``--seed`` values) runs frozen (``policy`` agent, ``learn=False``) from random starts on
``problems`` validation problems drawn from the training config's distribution by a generator of
its own (``VALIDATION_STREAM``: never the training stream, never a named scenario), ``seeds``
seeds each, ``evals`` evaluations; the uniform policy (``reinforce-moves`` with ``learn=False``)
runs on the same problems and seeds. A candidate's score is the mean over problems of
``log(uniform median / candidate median)`` (positive: better than uniform), with the number of
problems where it beats uniform; the best score wins and is copied to ``--out`` (when no
candidate scores above 0, nothing is copied and the exit status is 1). The report
(JSON) lists every candidate's score and per-problem medians. The SCAR scenarios and the
transfer study's mixes are not looked at, so the choice is not tuned to them.

``python -m experiments.select_policy experiments/configs/training/train-policy.yaml A.npz B.npz
[...] --out search/moves_policy.npz --report docs/results/select-policy.json [--problems 30]
[--evals 500] [--seeds 2]``
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from costmodel.files import AtomicFile, write_text_atomic
from search import Budget, run

from .train_policy import TrainPolicyConfig, draw_problem, load_config

#: the validation problems' generator: ``default_rng([cfg.seed, VALIDATION_STREAM])``, a stream
#: the training (``default_rng(cfg.seed)``) never draws from
VALIDATION_STREAM = 20261202


def validation_problems(cfg: TrainPolicyConfig, n: int) -> list[tuple[Any, str]]:
    """``n`` problems of the training distribution from the validation stream."""
    rng = np.random.default_rng([cfg.seed, VALIDATION_STREAM])
    return [draw_problem(cfg, rng) for _ in range(n)]


def medians(
    problems: list, weights: str | None, evals: int, seeds: int, options: dict | None = None
) -> list[float]:
    """Per problem, the median over ``seeds`` of the best objective the frozen policy with
    ``weights`` (``None``: the uniform policy) finds from random starts in ``evals``, with the
    training's agent ``options`` (network size, chains, horizon)."""
    agent = "policy" if weights is not None else "reinforce-moves"
    opts: dict[str, Any] = {**(options or {}), "learn": False, "seed_baselines": False}
    if weights is not None:
        opts["resume"] = weights
    return [
        float(
            np.median(
                [
                    run(p, agent, Budget(evals=evals), seed=s, **opts).best_fitness
                    for s in range(seeds)
                ]
            )
        )
        for p, _ in problems
    ]


def select(
    cfg: TrainPolicyConfig,
    candidates: list[str],
    problems: int = 30,
    evals: int = 500,
    seeds: int = 2,
    log=print,
) -> dict[str, Any]:
    """Score every candidate against the uniform policy; returns the report (``best``: the
    winning candidate's path)."""
    probs = validation_problems(cfg, problems)
    log(f"{problems} validation problems, {seeds} seeds, {evals} evaluations: uniform policy")
    uniform = medians(probs, None, evals, seeds, cfg.agent_options)
    report: dict[str, Any] = {
        "problems": [d for _, d in probs],
        "evals": evals,
        "seeds": seeds,
        "uniform": uniform,
        "candidates": {},
    }
    for c in candidates:
        log(f"candidate {c}")
        mine = medians(probs, c, evals, seeds, cfg.agent_options)
        gain = np.log(np.array(uniform) / np.array(mine))
        report["candidates"][c] = {
            "score": float(gain.mean()),
            "beats_uniform": int((gain > 0).sum()),
            "medians": mine,
        }
        log(f"  mean log gain over uniform {gain.mean():+.4f}, better on {(gain > 0).sum()}")
    report["best"] = max(candidates, key=lambda c: report["candidates"][c]["score"])
    return report


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m experiments.select_policy", description=__doc__)
    ap.add_argument("config", help="the training config (its problem distribution)")
    ap.add_argument("candidates", nargs="+", help="trained checkpoints (.npz)")
    ap.add_argument("--out", required=True, help="where the winner is copied")
    ap.add_argument("--report", required=True, help="the scores (JSON)")
    ap.add_argument("--problems", type=int, default=30)
    ap.add_argument("--evals", type=int, default=500)
    ap.add_argument("--seeds", type=int, default=2)
    a = ap.parse_args(argv)
    try:
        cfg = load_config(a.config)
        for name in ("problems", "evals", "seeds"):
            if getattr(a, name) < 1:
                raise ValueError(f"--{name} must be >= 1, got {getattr(a, name)}")
        for c in a.candidates:
            if not Path(c).is_file():
                raise ValueError(f"{c}: no such checkpoint")
        rep = select(cfg, a.candidates, a.problems, a.evals, a.seeds)
    except (ValueError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    write_text_atomic(Path(a.report), json.dumps(rep, indent=1) + "\n")
    if rep["candidates"][rep["best"]]["score"] <= 0:
        print(
            f"no candidate beats the uniform policy (best {rep['best']}: score "
            f"{rep['candidates'][rep['best']]['score']:+.4f}); {a.out} not written",
            file=sys.stderr,
        )
        return 1
    with AtomicFile(Path(a.out), "wb") as f:
        f.write(Path(rep["best"]).read_bytes())
    print(
        f"best: {rep['best']} (score {rep['candidates'][rep['best']]['score']:+.4f}); wrote {a.out}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
