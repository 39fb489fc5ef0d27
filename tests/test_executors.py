"""Serial, process and Dask executors give identical results for the same seeds."""

import os
import time

import numpy as np
import pytest

from costmodel import Layer, Model, Problem, Workload, mcm
from experiments.benchmark import benchmark
from search import Budget, run
from search.executors import SerialExecutor, TaskFailure, evaluate_chunked, make_executor


def tiny():
    a = Model(
        "cnn",
        [Layer.conv("c0", K=32, C=3, R=3, Yo=56), Layer.conv("c1", K=64, C=32, R=3, Yo=28)],
        batch=2,
    )
    b = Model("mlp", [Layer.gemm(f"g{i}", M=32, N=256, K=256) for i in range(3)], batch=4)
    return Problem(Workload([a, b]), mcm("het-sides", 2, 2), max_windows=2)


def _square(shared, x):
    return shared * x * x


def _die_on_three(shared, x):
    if x == 3:
        os._exit(1)  # the worker process dies
    return x


def test_process_pool_matches_serial():
    with make_executor("serial") as s, make_executor("process", workers=2) as p:
        assert s.map(_square, [1, 2, 3], shared=2) == p.map(_square, [1, 2, 3], shared=2)


def _numba_threads(problem, x):
    import numba

    problem.evaluate_batch(np.zeros((1, problem.genome_length), dtype=np.int64))
    return numba.get_num_threads()


def _assert_two_workers_share_the_cores(ex) -> None:
    """Two workers on a machine with c cores run c // 2 numba threads each (at least one), not
    c each: oversubscribed kernel launches cost ~13 ms a call on 2 cores."""
    if "NUMBA_NUM_THREADS" in os.environ:
        pytest.skip("NUMBA_NUM_THREADS set by the user is kept")
    got = ex.map(_numba_threads, [0, 1], shared=tiny())
    assert got == [max(1, (os.cpu_count() or 1) // 2)] * 2


def test_process_workers_share_the_cores():
    with make_executor("process", workers=2) as p:
        _assert_two_workers_share_the_cores(p)


def test_bad_executor_names():
    with pytest.raises(ValueError, match="unknown executor 'mpi'; choices"):
        make_executor("mpi")
    with pytest.raises(ValueError, match="--scheduler needs --executor dask"):
        make_executor("process", scheduler="tcp://127.0.0.1:1")


def _spy_make_executor(monkeypatch) -> list:
    """Make ``search.run`` record the executors it starts by name."""
    import search.api

    made = []

    def spy(name):
        made.append(make_executor(name))
        return made[-1]

    monkeypatch.setattr(search.api, "make_executor", spy)
    return made


def test_run_takes_an_executor_name_and_closes_it(monkeypatch):
    made = _spy_make_executor(monkeypatch)
    closed = []
    monkeypatch.setattr(SerialExecutor, "close", lambda self: closed.append(self))
    p = tiny()
    r1 = run(p, "random", Budget(evals=40), seed=1)
    r2 = run(p, "random", Budget(evals=40), seed=1, executor="serial")
    assert [type(e) for e in made] == [SerialExecutor] and closed == made
    assert np.array_equal(r1.best_genome, r2.best_genome) and r1.best_fitness == r2.best_fitness


def test_run_refuses_unknown_executors():
    p = tiny()
    with pytest.raises(ValueError, match="unknown executor 'mpi'; choices: serial, process, dask"):
        run(p, "random", Budget(evals=10), executor="mpi")
    with pytest.raises(ValueError, match=r"executor must be a name \(serial, process, dask\)"):
        run(p, "random", Budget(evals=10), executor=3)


dask = pytest.importorskip("dask.distributed")


def test_run_with_executor_dask_by_name(monkeypatch):
    made = _spy_make_executor(monkeypatch)
    p = tiny()
    r1 = run(p, "ga", Budget(evals=300), seed=2)
    r2 = run(p, "ga", Budget(evals=300), seed=2, executor="dask")
    assert [e.name for e in made] == ["dask"]
    assert made[0].client.status == "closed"  # the run started the cluster and closed it
    assert np.array_equal(r1.best_genome, r2.best_genome) and r1.best_fitness == r2.best_fitness


@pytest.fixture(scope="module")
def dask_ex():
    ex = make_executor("dask", workers=2)
    yield ex
    ex.close()


def test_dask_sweep_identical_to_serial(tmp_path, dask_ex):
    p = tiny()
    kw = dict(agents=["random", "ga", "sa"], seeds=[0, 1], budget=Budget(evals=150))
    serial = benchmark(p, out=tmp_path / "s", **kw)
    dist = benchmark(p, out=tmp_path / "d", executor=dask_ex, **kw)
    key = lambda r: (r["agent"], r["seed"])  # noqa: E731
    assert [(key(r), r["best"]) for r in serial] == [(key(r), r["best"]) for r in dist]


def test_dask_population_chunks_identical(dask_ex):
    p = tiny()
    g = p.sample(64, seed=3)
    a, b = p.evaluate_batch(g), evaluate_chunked(p, g, dask_ex, 4)
    np.testing.assert_array_equal(a.latency_s, b.latency_s)
    np.testing.assert_array_equal(a.energy_j, b.energy_j)
    r1 = run(p, "ga", Budget(evals=300), seed=2)
    r2 = run(p, "ga", Budget(evals=300), seed=2, executor=dask_ex)
    assert np.array_equal(r1.best_genome, r2.best_genome) and r1.best_fitness == r2.best_fitness


def test_dask_local_workers_share_the_cores(dask_ex):
    _assert_two_workers_share_the_cores(dask_ex)


def test_dead_worker_is_reported_and_finished_tasks_kept(dask_ex):
    out = dask_ex.map(_die_on_three, [1, 2, 3, 4])
    assert isinstance(out[2], TaskFailure)  # reported, not raised, not hung
    kept = [x for x in out if not isinstance(x, TaskFailure)]
    assert kept and all(x == i + 1 for i, x in enumerate(out) if not isinstance(x, TaskFailure))


def test_unreachable_scheduler_fails_fast():
    t = time.perf_counter()
    with pytest.raises(ValueError, match="could not reach the Dask scheduler"):
        make_executor("dask", scheduler="tcp://127.0.0.1:9")
    assert time.perf_counter() - t < 30
