"""Generated problems: the distribution policies are trained on (random mixes of zoo models and
batches on random meshes and patterns), shared by every training script so that "trained on
generated problems" means one thing.

A mix equal to a named scenario (sc1-sc10, seed, sc5x2, sc5x4) is redrawn, so the SCAR scenarios
a trained policy is evaluated on are never trained on.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from costmodel import Problem, Workload, mcm
from costmodel.config import load_model, read_yaml
from costmodel.hardware import MCM
from costmodel.zoo import MODELS, SCENARIOS, build_model

PATTERNS = ("het-sides", "het-cross", "het-checkerboard", "homo-ws", "homo-os")


class ProblemDistribution(BaseModel):
    """Which problems a training draws (every key optional); training configs extend it."""

    model_config = ConfigDict(extra="forbid", strict=True)

    seed: Annotated[int, Field(ge=0)] = 0
    problems: Annotated[int, Field(gt=0, le=100_000)] = 150
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


C = TypeVar("C", bound=BaseModel)


def load_config(path: str | Path, cls: type[C]) -> C:
    """The YAML file at ``path`` validated as ``cls``; ``ValueError`` naming the file and the
    field."""
    raw = read_yaml(path) or {}
    try:
        return cls.model_validate(raw)
    except ValidationError as err:
        e = err.errors()[0]
        field = ".".join(str(x) for x in e["loc"]) or "(top level)"
        raise ValueError(f"{path}: {field}: {e['msg']}") from None


def _named_mixes() -> set[tuple[tuple[str, int], ...]]:
    return {tuple(sorted(v)) for v in SCENARIOS.values()}


def draw_problem(cfg: ProblemDistribution, rng: np.random.Generator) -> tuple[Problem, str]:
    """One problem of the distribution and a one-line description (never a named scenario)."""
    mix, hw, objective, desc = draw(cfg, rng)
    work = Workload([build_model(n, batch=b) for n, b in mix])
    return Problem(work, hw, objective=objective), desc


def draw(
    cfg: ProblemDistribution, rng: np.random.Generator
) -> tuple[tuple[tuple[str, int], ...], MCM, str, str]:
    """The random draws of one problem (mix, MCM, objective, description), without building it
    (a resumed training replays the draws of the problems it has done)."""
    named = _named_mixes()
    while True:
        k = int(rng.integers(cfg.models_per_mix[0], cfg.models_per_mix[1] + 1))
        names = [str(x) for x in rng.choice(cfg.models, size=k, replace=False)]
        mix = tuple(sorted((n, int(rng.choice(cfg.batches))) for n in names))
        if mix not in named:
            break
    hw, objective, where = _draw_mcm(cfg, rng)
    return mix, hw, objective, f"{'+'.join(f'{n}x{b}' for n, b in mix)} on {where}"


def _draw_mcm(cfg: ProblemDistribution, rng: np.random.Generator) -> tuple[MCM, str, str]:
    """A random MCM and objective, and their description."""
    while True:  # a pattern the mesh cannot hold (het-cross below 3x3) is redrawn with its mesh
        rows, cols = (int(x) for x in rng.integers(cfg.mesh_sides[0], cfg.mesh_sides[1] + 1, 2))
        pattern = str(rng.choice(cfg.patterns))
        try:
            hw = mcm(pattern, rows, cols)
            break
        except ValueError:
            continue
    objective = str(rng.choice(cfg.objectives))
    return hw, objective, f"{rows}x{cols} {pattern}, {objective}"


def random_model(rng: np.random.Generator, name: str) -> dict[str, Any]:
    """A random model in the YAML form :func:`costmodel.config.load_model` reads (what a user
    writes for a model the zoo lacks): a CNN-like stack (convolutions at falling resolution,
    depthwise and pooling layers, residual skips, a classifier GEMM) or a transformer-like one
    (per block: QKV, attention products without weights, projection, MLP), 4-40 layers, sizes
    drawn over the ranges the zoo spans."""
    layers: list[dict[str, Any]] = []
    if rng.random() < 0.5:
        c, y = 3, int(rng.choice([32, 64, 128, 224]))
        for i in range(int(rng.integers(4, 40))):
            r = rng.random()
            if r < 0.12 and y > 2:
                layers.append(
                    {
                        "name": f"pool{i}",
                        "kind": "eltwise",
                        "C": c,
                        "Yo": y // 2,
                        "R": 2,
                        "stride": 2,
                    }
                )
                y //= 2
                continue
            k = int(min(2048, max(8, c * rng.choice([1, 1, 2]))) if i else rng.choice([16, 32, 64]))
            stride = 2 if y > 4 and rng.random() < 0.15 else 1
            y = max(1, y // stride)
            layer = {
                "name": f"conv{i}",
                "kind": "conv",
                "K": k,
                "C": c,
                "R": int(rng.choice([1, 3, 3, 5])),
                "Yo": y,
                "stride": stride,
            }
            if r > 0.85 and c == k and i:
                layer["groups"] = c  # depthwise
                layer["R"] = 3
            if i >= 2 and rng.random() < 0.2:
                layer["skips"] = [i - 2]
            layers.append(layer)
            c = k
        layers.append(
            {"name": "fc", "kind": "gemm", "M": 1, "N": int(rng.choice([10, 1000])), "K": c}
        )
    else:
        d, tokens = int(rng.choice([256, 512, 768, 1024])), int(rng.choice([64, 128, 256, 512]))
        heads = int(rng.choice([4, 8, 16]))
        for b in range(int(rng.integers(1, 7))):
            hd = d // heads
            layers += [
                {"name": f"qkv{b}", "kind": "gemm", "M": tokens, "N": 3 * d, "K": d},
                {
                    "name": f"qk{b}",
                    "kind": "gemm",
                    "M": tokens,
                    "N": tokens,
                    "K": hd,
                    "heads": heads,
                    "weights": False,
                    "vec_ops": 5 * heads * tokens,
                },
                {
                    "name": f"av{b}",
                    "kind": "gemm",
                    "M": tokens,
                    "N": hd,
                    "K": tokens,
                    "heads": heads,
                    "weights": False,
                },
                {"name": f"proj{b}", "kind": "gemm", "M": tokens, "N": d, "K": d, "vec_ops": 2 * d},
                {
                    "name": f"mlp{b}a",
                    "kind": "gemm",
                    "M": tokens,
                    "N": 4 * d,
                    "K": d,
                    "vec_ops": 8 * d,
                },
                {
                    "name": f"mlp{b}b",
                    "kind": "gemm",
                    "M": tokens,
                    "N": d,
                    "K": 4 * d,
                    "vec_ops": 2 * d,
                },
            ]
    return {"name": name, "layers": layers}


def draw_yaml_problem(cfg: ProblemDistribution, rng: np.random.Generator) -> tuple[Problem, str]:
    """A problem whose mix holds one or two random YAML-described models
    (:func:`random_model`, read back through :func:`costmodel.config.load_model`) beside zoo
    models, on a random MCM: what a user's own models look like to a trained policy."""
    k = int(rng.integers(cfg.models_per_mix[0], cfg.models_per_mix[1] + 1))
    n_random = int(rng.integers(1, min(2, k) + 1))
    zoo = [str(x) for x in rng.choice(cfg.models, size=k - n_random, replace=False)]
    models, names = [], []
    for n in zoo:
        b = int(rng.choice(cfg.batches))
        models.append(build_model(n, batch=b))
        names.append(f"{n}x{b}")
    for i in range(n_random):
        spec = random_model(rng, f"yaml{i}")
        spec["batch"] = int(rng.choice(cfg.batches))
        models.append(load_model(spec))
        # the description names the model's content (a digest of its YAML form), so a cache
        # keyed by description never confuses two random models of the same length
        digest = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:8]
        names.append(f"yaml{i}[{len(spec['layers'])} layers, {digest}]x{spec['batch']}")
    hw, objective, where = _draw_mcm(cfg, rng)
    return Problem(Workload(models), hw, objective=objective), f"{'+'.join(names)} on {where}"
