"""Train the shipped ``policy`` agent's weights: ``reinforce-moves`` on a stream of generated
problems (issue 13, item 4).

Each problem is drawn from the config's distribution (random mixes of zoo models and batches,
mesh sizes, patterns, objectives); ``reinforce-moves`` runs ``evals_per_problem`` evaluations on
it starting from the previous problem's checkpoint (policy and optimizer) and writes the
checkpoint back. A mix equal to a named scenario (sc1-sc10, seed, sc5x2, sc5x4) is redrawn, so
the SCAR scenarios stay unseen. The result is an ``.npz`` checkpoint that ``search --algo policy``
loads (default: the package's ``search/moves_policy.npz``).

``python -m experiments.train_policy experiments/configs/training/train-policy.yaml --out FILE
[--log FILE.jsonl]`` (``--out search/moves_policy.npz`` replaces the shipped weights, so it is
never a default). Prints one line per problem.
Deterministic for a config (the problems come from one generator seeded with ``seed``; the run
on problem ``k`` uses seed ``seed + k``). The checkpoint at ``--out`` is rewritten (atomically)
after every problem, so an interrupted training keeps what it learned so far.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from costmodel import Problem, Workload, mcm
from costmodel.config import read_yaml
from costmodel.files import AtomicFile, write_text_atomic
from costmodel.zoo import MODELS, SCENARIOS, build_model
from search import Budget, run

PATTERNS = ("het-sides", "het-cross", "het-checkerboard", "homo-ws", "homo-os")


class TrainPolicyConfig(BaseModel):
    """The problem distribution and the training budget (every key optional)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    seed: Annotated[int, Field(ge=0)] = 0
    problems: Annotated[int, Field(gt=0, le=100_000)] = 150
    evals_per_problem: Annotated[int, Field(gt=0, le=1_000_000)] = 500
    models: list[str] = Field(default_factory=lambda: sorted(MODELS))
    models_per_mix: Annotated[list[int], Field(min_length=2, max_length=2)] = [2, 4]
    batches: list[Annotated[int, Field(gt=0, le=256)]] = Field(
        default_factory=lambda: [1, 2, 4, 8, 16, 32]
    )
    mesh_sides: Annotated[list[int], Field(min_length=2, max_length=2)] = [2, 6]
    patterns: list[str] = Field(default_factory=lambda: list(PATTERNS))
    objectives: list[Literal["edp", "latency", "energy", "throughput"]] = Field(
        default_factory=lambda: ["edp"]
    )
    seeded_share: Annotated[float, Field(ge=0, le=1)] = 0.5
    agent_options: dict[str, Any] = Field(default_factory=dict)

    def model_post_init(self, _: Any) -> None:
        bad = [m for m in self.models if m not in MODELS]
        if bad:
            raise ValueError(f"models: unknown {bad}; allowed: {', '.join(sorted(MODELS))}")
        bad = [p for p in self.patterns if p not in PATTERNS]
        if bad:
            raise ValueError(f"patterns: unknown {bad}; allowed: {', '.join(PATTERNS)}")
        lo, hi = self.models_per_mix
        if not 1 <= lo <= hi <= 8:
            raise ValueError(f"models_per_mix: need 1 <= low <= high <= 8, got {lo}, {hi}")
        if self.models_per_mix[1] > len(self.models):
            raise ValueError(
                f"models_per_mix: a mix of {self.models_per_mix[1]} models needs as many "
                f"models, got {len(self.models)}"
            )
        lo, hi = self.mesh_sides
        if not 1 <= lo <= hi <= 16:
            raise ValueError(f"mesh_sides: need 1 <= low <= high <= 16, got {lo}, {hi}")
        reserved = {"seed_baselines", "checkpoint", "resume"} & set(self.agent_options)
        if reserved:
            raise ValueError(f"agent_options: {sorted(reserved)} are set by the training itself")
        from search import make_agent

        make_agent("reinforce-moves", **self.agent_options)  # unknown or bad options: ValueError


def load_config(path: str | Path) -> TrainPolicyConfig:
    """The validated config; ``ValueError`` naming the file and the field."""
    raw = read_yaml(path) or {}
    try:
        return TrainPolicyConfig.model_validate(raw)
    except ValidationError as err:
        e = err.errors()[0]
        field = ".".join(str(x) for x in e["loc"]) or "(top level)"
        raise ValueError(f"{path}: {field}: {e['msg']}") from None


def _named_mixes() -> set[tuple[tuple[str, int], ...]]:
    return {tuple(sorted(v)) for v in SCENARIOS.values()}


def draw_problem(cfg: TrainPolicyConfig, rng: np.random.Generator) -> tuple[Problem, str]:
    """One problem of the distribution and a one-line description (never a named scenario)."""
    named = _named_mixes()
    while True:
        k = int(rng.integers(cfg.models_per_mix[0], cfg.models_per_mix[1] + 1))
        names = [str(x) for x in rng.choice(cfg.models, size=k, replace=False)]
        mix = tuple(sorted((n, int(rng.choice(cfg.batches))) for n in names))
        if mix not in named:
            break
    while True:  # a pattern the mesh cannot hold (het-cross below 3x3) is redrawn with its mesh
        rows, cols = (int(x) for x in rng.integers(cfg.mesh_sides[0], cfg.mesh_sides[1] + 1, 2))
        pattern = str(rng.choice(cfg.patterns))
        try:
            hw = mcm(pattern, rows, cols)
            break
        except ValueError:
            continue
    objective = str(rng.choice(cfg.objectives))
    work = Workload([build_model(n, batch=b) for n, b in mix])
    desc = f"{'+'.join(f'{n}x{b}' for n, b in mix)} on {rows}x{cols} {pattern}, {objective}"
    return Problem(work, hw, objective=objective), desc


def train(cfg: TrainPolicyConfig, out: Path, log=print) -> list[dict[str, Any]]:
    """Train through ``cfg.problems`` problems, the checkpoint carried from one to the next and
    copied to ``out`` (atomically) after each. Returns one record per problem."""
    rng = np.random.default_rng(cfg.seed)
    records = []
    with tempfile.TemporaryDirectory() as tmp:
        ck = Path(tmp) / "policy.npz"
        for k in range(cfg.problems):
            p, desc = draw_problem(cfg, rng)
            seeded = bool(rng.random() < cfg.seeded_share)
            t = time.perf_counter()
            r = run(
                p,
                "reinforce-moves",
                Budget(evals=cfg.evals_per_problem),
                seed=cfg.seed + k,
                seed_baselines=seeded,
                checkpoint=str(ck),
                resume=str(ck) if k else None,
                **cfg.agent_options,
            )
            first = r.history[0]["best"] if r.history else float("nan")
            rec = {
                "problem": k,
                "description": desc,
                "seeded": seeded,
                "first_best": first,
                "best": r.best_fitness,
                "log_improvement": float(np.log(first / r.best_fitness)),
                "seconds": round(time.perf_counter() - t, 2),
            }
            records.append(rec)
            log(
                f"[{k + 1}/{cfg.problems}] {desc} ({'seeded' if seeded else 'unseeded'}): "
                f"log improvement {rec['log_improvement']:.3f} in {rec['seconds']} s"
            )
            out.parent.mkdir(parents=True, exist_ok=True)
            with AtomicFile(out, "wb") as f:
                f.write(ck.read_bytes())
    return records


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m experiments.train_policy", description=__doc__)
    ap.add_argument("config")
    ap.add_argument(
        "--out",
        required=True,
        help="the checkpoint to write (search/moves_policy.npz replaces the shipped policy)",
    )
    ap.add_argument("--log", default=None, help="also write the per-problem records (JSONL)")
    a = ap.parse_args(argv)
    try:
        cfg = load_config(a.config)
    except (ValueError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    recs = train(cfg, Path(a.out))
    if a.log:
        write_text_atomic(Path(a.log), "".join(json.dumps(r) + "\n" for r in recs))
    print(f"wrote {a.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
