"""Small workloads several test files share, defined once (tests/instances.py holds the
evaluator tests' three-model instance and helpers)."""

import pytest

from costmodel import Layer, Model, Problem, Workload, mcm


@pytest.fixture(scope="session")
def cnn_mlp_workload() -> Workload:
    """A 4-conv CNN with a long skip into its fc (batch 4) and a 4-GEMM MLP (batch 2)."""
    a = Model(
        "cnn",
        [
            Layer.conv(f"c{i}", K=32 * (i + 1), C=3 if i == 0 else 32 * i, R=3, Yo=28)
            for i in range(4)
        ]
        + [Layer.gemm("fc", M=1, N=10, K=128, skips=(2,))],
        batch=4,
    )
    b = Model("mlp", [Layer.gemm(f"g{i}", M=16, N=256, K=256) for i in range(4)], batch=2)
    return Workload([a, b])


@pytest.fixture(scope="module")
def tiny_problem(cnn_mlp_workload) -> Problem:
    """:func:`cnn_mlp_workload` on a 2x2 het-sides MCM with up to 3 windows (EDP)."""
    return Problem(cnn_mlp_workload, mcm("het-sides", 2, 2), max_windows=3)


@pytest.fixture(scope="session")
def cnn_gemm_workload() -> Workload:
    """A CNN with a strided conv and a skip (batch 2) and a 2-GEMM chain (batch 4)."""
    cnn = Model(
        "cnn",
        [
            Layer.conv("c0", K=16, C=3, R=3, Yo=16),
            Layer.conv("c1", K=16, C=16, R=3, Yo=16),
            Layer.conv("c2", K=32, C=16, R=3, Yo=8, stride=2),
            Layer.conv("c3", K=32, C=32, R=1, Yo=8, skips=(1,)),
            Layer.gemm("fc", M=1, N=10, K=2048),
        ],
        batch=2,
    )
    mlp = Model(
        "mlp",
        [Layer.gemm("g0", M=8, N=64, K=32), Layer.gemm("g1", M=8, N=64, K=64)],
        batch=4,
    )
    return Workload([cnn, mlp])
