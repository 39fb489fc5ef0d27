"""Small instances shared by the evaluator tests."""

from __future__ import annotations

import numpy as np

from costmodel import Layer, Model, Problem, Workload


def tiny_workload() -> Workload:
    """Three small models with skips (residual-like and long-range), one a single layer."""
    a = Model(
        "cnn",
        [Layer.conv("c0", K=32, C=3, R=3, Yo=28)]
        + [
            Layer.conv(f"c{i}", K=32, C=32, R=3, Yo=28, skips=(i - 2,) * (i > 1))
            for i in range(1, 5)
        ]
        + [Layer.gemm("fc", M=1, N=10, K=128, skips=(0, 2))],
        batch=4,
    )
    b = Model(
        "mlp",
        [Layer.gemm(f"g{i}", M=16, N=256, K=256, skips=(0,) if i > 1 else ()) for i in range(5)],
        batch=6,
    )
    c = Model("one", [Layer.gemm("only", M=8, N=64, K=64)], batch=2)
    return Workload([a, b, c])


def blocky(p: Problem, n: int, seed: int) -> np.ndarray:
    """Valid genomes whose chiplets come in runs (long stages, weights that do not fit L2)."""
    rng = np.random.default_rng(seed)
    g = p.sample(n, seed=rng)
    L = p.n_layers
    for i in range(n):
        k = int(rng.integers(1, 40))
        g[i, :L] = g[i, :L][np.arange(L) // k * k]
    return g
