"""Exact search: counting, canonical enumeration, refusal, symmetry reduction, small instance."""

from __future__ import annotations

import numpy as np
import pytest

from costmodel import Layer, Model, Problem, Workload, mcm, simulate
from costmodel.backends import numba_available
from search import Budget, make_agent, run
from search.exact import (
    Exhaustive,
    count_schedules,
    count_symmetric,
    optimum,
    small_instance,
    symmetries,
)


def tiny(
    pattern="het-sides", rows=1, cols=2, sizes=(2, 1), batches=(2, 4), W=2, objective="edp", seed=0
):
    """A tiny problem with random layer shapes (conv and GEMM mixed)."""
    rng = np.random.default_rng(seed)
    models = []
    for m, (n, b) in enumerate(zip(sizes, batches)):
        layers = []
        for i in range(n):
            if rng.random() < 0.5:
                layers.append(
                    Layer.conv(
                        f"c{i}",
                        K=int(rng.choice([8, 32, 64])),
                        C=int(rng.choice([1, 3, 16, 64])),
                        R=3,
                        Yo=int(rng.choice([8, 32, 64])),
                        stride=1,
                    )
                )
            else:
                layers.append(
                    Layer.gemm(
                        f"g{i}",
                        M=int(rng.choice([16, 128])),
                        N=int(rng.choice([64, 512])),
                        K=int(rng.choice([64, 512])),
                    )
                )
        models.append(Model(f"m{m}", layers, batch=b))
    return Problem(Workload(models), mcm(pattern, rows, cols), objective, max_windows=W)


def brute_force(p: Problem) -> set[tuple[int, ...]]:
    """Every genome of nvec, canonicalized and deduplicated."""
    allg = np.array(list(np.ndindex(*p.nvec)), dtype=np.int64)
    return {tuple(r) for r in p.canonical(allg).tolist()}


def enumerated(p: Problem, method="enumerate") -> np.ndarray:
    return np.concatenate(list(Exhaustive(method=method, chunk=1000).genomes(p)))


@pytest.mark.parametrize(
    "kw",
    [
        dict(),
        dict(sizes=(3, 1), batches=(1, 6), W=3),
        dict(sizes=(4,), batches=(4,), W=2),
        dict(sizes=(1, 1, 1), batches=(2, 1, 3), W=2),
    ],
)
def test_count_matches_brute_force(kw):
    p = tiny(**kw)
    ref = brute_force(p)
    assert count_schedules(p) == len(ref)
    g = enumerated(p)
    got = {tuple(r) for r in g.tolist()}
    assert len(got) == len(g) == len(ref)  # nothing evaluated twice
    assert got == ref
    assert np.array_equal(p.canonical(g), g)  # all canonical and valid
    for row in g[:: max(1, len(g) // 50)]:
        p.decode(row)


def test_count_formula_small_instance():
    p = small_instance()
    assert count_schedules(p) == 4**6 * 12 * 12 == 589_824
    assert count_symmetric(p) == 286_720


def test_exhaustive_beats_every_sample_and_matches_reference_evaluator():
    p = small_instance()
    res = run(p, "exhaustive", Budget(evals=count_schedules(p)))
    assert res.extra["optimal"] is True
    assert res.extra["schedules"] == res.n_evals == 589_824
    fs = p.fitness(p.sample(500, 0))
    assert res.best_fitness <= fs.min()
    # the reference (per-schedule) evaluator agrees on the optimum
    r = p.evaluate(res.best_schedule)
    assert r.edp == pytest.approx(res.best_fitness, rel=1e-9)
    # and the discrete-event simulator measures the same latency
    assert simulate(p, res.best_schedule).makespan_s == pytest.approx(r.latency_s, rel=1e-9)
    g, f = optimum(p, method="symmetry")
    assert f == pytest.approx(res.best_fitness, rel=1e-12)


def test_refuses_over_max_schedules_before_evaluating(tmp_path):
    p = small_instance()
    with pytest.raises(ValueError, match=r"589,824 distinct schedules.*max_schedules=1,000"):
        run(p, "exhaustive", Budget(evals=10), max_schedules=1000, log_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []  # nothing evaluated, nothing written
    with pytest.raises(ValueError, match="max_schedules"):
        optimum(p, max_schedules=100_000)
    with pytest.raises(ValueError, match="method"):
        Exhaustive(method="bnb")
    with pytest.raises(ValueError, match="max_schedules"):
        Exhaustive(max_schedules=0)
    with pytest.raises(ValueError, match="does not take option"):
        make_agent("exhaustive", budget=3)


def test_budget_cut_is_not_optimal_and_deterministic():
    p = tiny(sizes=(3, 2), batches=(2, 2), W=2)
    n = count_schedules(p)
    a = run(p, "exhaustive", Budget(evals=n // 3), seed=0, chunk=100)
    b = run(p, "exhaustive", Budget(evals=n // 3), seed=5, chunk=100)
    assert a.extra == {"optimal": False, "schedules": n, "evaluated": n // 3, "method": "enumerate"}
    assert a.n_evals == n // 3
    assert np.array_equal(a.best_genome, b.best_genome) and a.best_fitness == b.best_fitness
    assert [h["best"] for h in a.history] == [h["best"] for h in b.history]
    full = run(p, "exhaustive", Budget(evals=n))
    assert full.extra["optimal"] and full.best_fitness <= a.best_fitness
    g, f = optimum(p)
    assert f == full.best_fitness and np.array_equal(g, full.best_genome)


SYM_CASES = [
    dict(pattern="het-sides", rows=2, cols=2, sizes=(2, 1), batches=(2, 3), W=2),
    dict(pattern="homo-ws", rows=2, cols=2, sizes=(2, 1), batches=(1, 2), W=3),
    dict(pattern="het-checkerboard", rows=2, cols=2, sizes=(3,), batches=(4,), W=2),
    dict(pattern="homo-os", rows=3, cols=2, sizes=(2, 1), batches=(2, 1), W=2),
    dict(pattern="het-sides", rows=3, cols=4, sizes=(1, 1), batches=(2, 2), W=2),
    dict(pattern="het-cross", rows=3, cols=3, sizes=(2, 1), batches=(1, 2), W=2),
]


@pytest.mark.parametrize("case", range(len(SYM_CASES)))
@pytest.mark.parametrize("objective", ["edp", "latency", "throughput"])
def test_symmetry_equals_enumerate(case, objective):
    p = tiny(**SYM_CASES[case], objective=objective, seed=case)
    full = run(p, "exhaustive", Budget(evals=count_schedules(p)))
    sym = run(p, "exhaustive", Budget(evals=count_schedules(p)), method="symmetry")
    assert sym.extra["optimal"] and sym.n_evals == count_symmetric(p) <= full.n_evals
    assert sym.best_fitness == pytest.approx(full.best_fitness, rel=1e-12)
    g = enumerated(p, "symmetry")
    assert len({tuple(r) for r in g.tolist()}) == len(g) == count_symmetric(p)


@pytest.mark.parametrize("case", range(len(SYM_CASES)))
def test_symmetries_leave_every_figure_unchanged(case):
    """The invariance the symmetry method relies on, checked on random schedules."""
    p = tiny(**SYM_CASES[case], seed=case)
    L = p.n_layers
    g = p.sample(400, case)
    ref = p.evaluate_batch(g)
    variants = []
    for perm in symmetries(p):
        h = g.copy()
        h[:, :L] = perm[h[:, :L]]
        variants.append(h)
    # window relabeling: shift every window up when the last window is unused by all
    free = (g[:, L : 2 * L] < p.max_windows - 1).all(axis=1)
    h = g[free].copy()
    h[:, L : 2 * L] += 1
    mb = h[:, 2 * L :].reshape(len(h), p.n_models, p.max_windows)
    mb[:] = np.roll(mb, 1, axis=2)
    variants.append(h)
    for h in variants:
        sel = free if h.shape[0] != g.shape[0] else slice(None)
        r = p.evaluate_batch(h)
        for name in ("latency_s", "energy_j", "edp", "throughput"):
            np.testing.assert_allclose(getattr(r, name), getattr(ref, name)[sel], rtol=1e-12)


def test_small_instance_seeds():
    p0, p1 = small_instance(), small_instance(1)
    assert p0.n_layers == p1.n_layers == 6 and count_schedules(p1) == 589_824
    assert [m.batch for m in p0.workload.models] == [2, 2]
    assert [len(o) for o in p0.mb_options] == [2, 2]
    assert p0.mcm.grid_letters() == ["WO", "WO"]
    assert small_instance(1).workload.models[1].layers == p1.workload.models[1].layers
    assert small_instance(0, "latency").objective == "latency"


@pytest.mark.parametrize("rows, cols", [(1, 3), (17, 16)])  # 3 chiplets: one byte; 272: two
def test_schedule_keys_are_equal_exactly_when_canonical_forms_are(rows, cols):
    wl = Workload(
        [Model("a", [Layer.gemm(f"g{i}", M=8, N=64, K=64) for i in range(3)], batch=4)] * 2
    )
    p = Problem(wl, mcm("het-sides", rows, cols), max_windows=2)
    rng = np.random.default_rng(0)
    g = p.sample(200, rng)
    g[1::2, : p.n_layers] = p.mcm.n_chiplets - 1 - g[::2, : p.n_layers]  # top chiplet ids too
    g[::7] = g[3]  # repeats
    g[5] = g[4]
    g[4, 0], g[5, 0] = 0, 256 % p.mcm.n_chiplets  # one byte would wrap 256 onto 0
    keys = p.schedule_keys(g)
    canon = [tuple(r) for r in p.canonical(g).tolist()]
    for i in range(len(g)):
        for j in range(len(g)):
            assert (keys[i] == keys[j]) == (canon[i] == canon[j])


@pytest.mark.skipif(not numba_available(), reason="needs the fast extra (numba)")
@pytest.mark.parametrize("windows", [1, 3])
def test_canonical_form_is_the_same_on_both_backends(windows):
    wl = Workload(
        [
            Model("a", [Layer.gemm(f"g{i}", M=8, N=64, K=64) for i in range(4)], batch=6),
            Model("b", [Layer.gemm("g", M=8, N=64, K=64)], batch=4),
        ]
    )
    p = Problem(wl, mcm("het-cross", 3, 3), max_windows=windows)
    rng = np.random.default_rng(windows)
    g = np.concatenate([p.sample(100, rng), rng.integers(-2, p.nvec + 2, (100, len(p.nvec)))])
    canon = p.canonical(g, "numpy")
    assert np.array_equal(canon, p.canonical(g, "numba"))
    assert not np.array_equal(canon, g)  # something to repair or zero
    with pytest.raises(ValueError, match="unknown backend 'gpu'"):
        p.canonical(g, "gpu")
