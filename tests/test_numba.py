"""The numba batch evaluator (extra ``fast``) against the numpy one: every BatchResult field to 1e-9
on every scenario and several meshes, on random, blocky (long stages) and repaired invalid genomes;
edge cases (1-row, 1-column and 1x1 meshes, a tiny workload with skips and many windows, P = 0);
determinism and independence of rows."""

from __future__ import annotations

import dataclasses
import pickle

import numpy as np
import pytest

pytest.importorskip("numba")

from costmodel import (  # noqa: E402
    BatchResult,  # noqa: E402
    Problem,
    mcm,
    monolithic,
    scenario,
)
from costmodel.batch import evaluate_batch as numpy_batch  # noqa: E402
from costmodel.numba_batch import evaluate_batch as numba_batch  # noqa: E402
from costmodel.zoo import SCENARIOS  # noqa: E402

from .instances import blocky, tiny_workload  # noqa: E402

FIELDS = [f.name for f in dataclasses.fields(BatchResult)]
MESHES = {
    "het-sides-3x3": lambda: mcm("het-sides", 3, 3),
    "het-cross-3x3": lambda: mcm("het-cross", 3, 3),
    "het-sides-2x2": lambda: mcm("het-sides", 2, 2),
    "het-sides-1x3": lambda: mcm("het-sides", 1, 3),
    "homo-ws-3x1": lambda: mcm("homo-ws", 3, 1),
}
#: for the tiny workload: one chiplet (no links), and an L2 small enough that weights sometimes
#: fit and activations spill
EXTRA_MESHES = {
    "monolithic": lambda: monolithic(mcm("het-sides", 2, 2)),
    "small-l2-2x3": lambda: mcm("het-checkerboard", 2, 3, l2_bytes=160_000),
}
_problems: dict = {}


def problem(sc: str, mesh: str, **kw) -> Problem:
    key = (sc, mesh, tuple(sorted(kw.items())))
    if key not in _problems:
        wl = tiny_workload() if sc == "tiny" else scenario(sc)
        hw = EXTRA_MESHES[mesh]() if mesh in EXTRA_MESHES else MESHES[mesh]()
        _problems[key] = Problem(wl, hw, **kw)
    return _problems[key]


def assert_same(p: Problem, genomes: np.ndarray) -> None:
    a, b = numpy_batch(p.compiled, genomes), numba_batch(p.compiled, genomes)
    for f in FIELDS:
        x, y = getattr(a, f), getattr(b, f)
        assert x.shape == y.shape, f
        scale = float(np.abs(x).max(initial=0.0))
        np.testing.assert_allclose(y, x, rtol=1e-9, atol=1e-12 * scale, err_msg=f)


@pytest.mark.parametrize("sc", list(SCENARIOS))
def test_every_scenario_on_several_meshes(sc):
    for i, mesh in enumerate(MESHES):
        p = problem(sc, mesh)
        assert_same(p, p.sample(48, seed=i))
        assert_same(p, blocky(p, 16, seed=i))


@pytest.mark.parametrize("mesh", [*MESHES, *EXTRA_MESHES])
@pytest.mark.parametrize("windows", [1, 2, 5])
def test_tiny_workload_with_skips_and_windows(mesh, windows):
    p = problem("tiny", mesh, max_windows=windows)
    assert_same(p, p.sample(200, seed=windows))
    assert_same(p, blocky(p, 50, seed=windows))


@pytest.mark.parametrize("sc,mesh", [("sc3", "het-cross-3x3"), ("tiny", "het-sides-2x2")])
def test_repaired_invalid_genomes(sc, mesh):
    p = problem(sc, mesh) if sc != "tiny" else problem(sc, mesh, max_windows=4)
    rng = np.random.default_rng(7)
    bad = rng.integers(-3, p.nvec + 3, size=(64, p.genome_length))  # out of range, windows unsorted
    a, b = p.evaluate_batch(bad, backend="numpy"), p.evaluate_batch(bad, backend="numba")
    for f in FIELDS:
        x = getattr(a, f)
        np.testing.assert_allclose(getattr(b, f), x, rtol=1e-9, atol=1e-12 * np.abs(x).max())
    np.testing.assert_allclose(p.fitness(bad, backend="numba"), p.fitness(bad, backend="numpy"))


def test_deterministic_and_rows_independent():
    p = problem("sc2", "het-sides-3x3")
    g = np.concatenate([p.sample(40, seed=3), blocky(p, 24, seed=4)])
    r1, r2 = numba_batch(p.compiled, g), numba_batch(p.compiled, g)
    rev = numba_batch(p.compiled, g[::-1].copy())  # scratch is reset between individuals
    one = numba_batch(p.compiled, g[5:6])
    for f in FIELDS:
        np.testing.assert_array_equal(getattr(r1, f), getattr(r2, f))
        np.testing.assert_array_equal(getattr(r1, f), getattr(rev, f)[::-1])
        np.testing.assert_array_equal(getattr(r1, f)[5:6], getattr(one, f))


def test_pickled_problem_keeps_its_tables():
    p = problem("tiny", "het-cross-3x3", max_windows=3)
    g = p.sample(20, seed=1)
    r = numba_batch(p.compiled, g)  # builds and caches the static arrays
    q = pickle.loads(pickle.dumps(p))
    np.testing.assert_array_equal(numba_batch(q.compiled, g).edp, r.edp)


def test_empty_population_and_in_kernel_repair():
    p = problem("tiny", "het-sides-2x2", max_windows=3)
    r = numba_batch(p.compiled, np.zeros((0, p.genome_length), dtype=np.int64))
    assert r.window_latency_s.shape == (0, 3) and r.link_bytes.shape == (0, len(p.mcm.links))
    g = p.sample(2)
    g[1, 0] = p.mcm.n_chiplets  # out of range: the kernel clips it as repair_genomes does
    g[1, p.n_layers + 1] = -5
    np.testing.assert_array_equal(
        numba_batch(p.compiled, g).edp, numba_batch(p.compiled, p.repair(g)).edp
    )
    with pytest.raises(ValueError, match="genomes must have shape"):
        numba_batch(p.compiled, g[:, :-1])


def test_threads_give_bit_identical_results():
    import numba

    p = problem("sc2", "het-sides-3x3")
    g = np.concatenate([p.sample(150, seed=5), blocky(p, 50, seed=6)])
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = numba_batch(p.compiled, g)
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
        many = numba_batch(p.compiled, g)
    finally:
        numba.set_num_threads(before)
    for f in FIELDS:
        np.testing.assert_array_equal(getattr(one, f), getattr(many, f))


def test_fitness_only_path_equals_the_detailed_one():
    p = problem("sc3", "het-cross-3x3")
    g = p.sample(100, seed=9)
    full, lean = numba_batch(p.compiled, g), numba_batch(p.compiled, g, detail=False)
    for f in ("latency_s", "energy_j", "edp", "throughput", "dram_bytes", "energy_nop_j"):
        np.testing.assert_array_equal(getattr(full, f), getattr(lean, f))
    assert lean.window_latency_s.shape == (100, 0)
