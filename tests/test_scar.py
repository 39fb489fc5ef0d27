import numpy as np
import pytest

from costmodel import Problem, mcm, scenario
from search import Budget, run
from search.scar import ScarEA, ScarHeuristic, _quantile_bounds


@pytest.fixture(scope="module")
def sc1():
    return Problem(scenario("sc1"), mcm("het-sides", 3, 3))


@pytest.fixture(scope="module")
def runs(sc1, tiny_problem):
    out = {}
    for pname, p in (("sc1", sc1), ("tiny_problem", tiny_problem)):
        for alg in ("scar", "scar-ea"):
            out[pname, alg] = run(p, alg, Budget(evals=500), seed=0)
    return out


def _paths_adjacent(problem, schedule):
    return all(
        problem.mcm.hops[a, b] == 1
        for segs in problem.to_structured(schedule)
        for seg in segs
        for a, b in zip(seg["path"], seg["path"][1:])
    )


@pytest.mark.parametrize("pname", ["sc1", "tiny_problem"])
@pytest.mark.parametrize("alg", ["scar", "scar-ea"])
def test_valid_and_better_than_random(runs, request, pname, alg):
    p = request.getfixturevalue(pname)
    r = runs[pname, alg]
    p.validate(r.best_schedule)
    assert r.algorithm == alg
    assert 0 < r.n_evals <= 500
    assert np.isclose(r.best_fitness, p.fitness(r.best_genome[None, :])[0], rtol=1e-9)
    assert np.isclose(r.metrics["edp"], r.best_fitness, rtol=1e-6)
    random_mean = p.fitness(p.sample(256, 0)).mean()
    assert r.best_fitness < random_mean


@pytest.mark.parametrize("pname", ["sc1", "tiny_problem"])
@pytest.mark.parametrize("alg", ["scar", "scar-ea"])
def test_deterministic(runs, request, pname, alg):
    p = request.getfixturevalue(pname)
    a = runs[pname, alg]
    b = run(p, alg, Budget(evals=500), seed=0)
    assert np.array_equal(a.best_genome, b.best_genome)
    strip = [{k: v for k, v in h.items() if k != "seconds"} for h in a.history]
    assert strip == [{k: v for k, v in h.items() if k != "seconds"} for h in b.history]


@pytest.mark.parametrize("pname", ["sc1", "tiny_problem"])
def test_heuristic_uses_adjacent_paths(runs, request, pname):
    p = request.getfixturevalue(pname)
    s = runs[pname, "scar"].best_schedule
    assert _paths_adjacent(p, s)
    # every stage of a model in a window sits on its own chiplet of a mesh path
    for segs in p.to_structured(s):
        for seg in segs:
            assert len(set(seg["path"])) == len(seg["path"])


def test_heuristic_candidates_all_adjacent(sc1):
    from search.base import Evaluator
    from search.scar import _Candidates

    c = _Candidates(sc1, 4, 4, 3, 3, np.random.default_rng(0))
    genomes = list(c)
    assert len(genomes) == len({g.tobytes() for g in genomes}) > 50
    for g in genomes[::7]:
        assert _paths_adjacent(sc1, sc1.decode(g))
    # the heuristic stops when its candidates run out, not at the budget
    ev = Evaluator(sc1, Budget(evals=10**6))
    ScarHeuristic(restarts=False).search(sc1, ev, np.random.default_rng(0))
    assert ev.n_evals == len(genomes)


def test_ea_stops_after_its_generations(sc1):
    r = run(sc1, "scar-ea", Budget(evals=10_000), seed=0, restarts=False)
    assert r.n_evals == 10 * (1 + 4)
    r = run(
        sc1, "scar-ea", Budget(evals=10_000), seed=0, population=4, generations=2, restarts=False
    )
    assert r.n_evals == 4 * 3


def test_budget_respected(sc1):
    for alg in ("scar", "scar-ea"):
        r = run(sc1, alg, Budget(evals=7), seed=3)
        assert r.n_evals == 7
        sc1.validate(r.best_schedule)


def test_ea_mutation_keeps_schedules_valid(tiny_problem):
    rng = np.random.default_rng(0)
    adj = [np.nonzero(tiny_problem.mcm.hops[i] == 1)[0] for i in range(tiny_problem.mcm.n_chiplets)]
    g = tiny_problem.sample(1, 0)[0]
    changed = 0
    for _ in range(200):
        h = ScarEA._mutate(tiny_problem, g, adj, rng)
        tiny_problem.decode(h)
        changed += not np.array_equal(tiny_problem.repair(g[None])[0], h)
        g = h
    assert changed > 100


def test_options():
    with pytest.raises(ValueError, match="does not take option"):
        ScarHeuristic(bogus=1)
    with pytest.raises(ValueError, match="does not take option"):
        ScarEA(n_split=4)
    with pytest.raises(ValueError, match="positive integer"):
        ScarHeuristic(top_k=0)
    with pytest.raises(ValueError, match="random_fraction"):
        ScarEA(random_fraction=2.0)
    assert ScarHeuristic().config["n_splits"] == 4 and ScarHeuristic().config["top_k"] == 4
    assert ScarEA().config["population"] == 10 and ScarEA().config["generations"] == 4


def test_option_changes_candidates(tiny_problem):
    a = run(tiny_problem, "scar", Budget(evals=500), seed=0, n_splits=1, top_k=1)
    b = run(tiny_problem, "scar", Budget(evals=500), seed=0)
    assert a.n_evals < b.n_evals


def test_quantile_bounds():
    assert _quantile_bounds(np.ones(8), 4) == [0, 2, 4, 6, 8]
    assert _quantile_bounds(np.array([10.0, 1, 1, 1]), 3) == [0, 1, 2, 4]
    assert _quantile_bounds(np.ones(2), 5) == [0, 1, 2]


def test_ranked_index_tuples_match_a_full_sort():
    """The lazy rank-by-rank enumeration gives exactly the order of sorting every tuple by
    (sum of indices, tuple), which the eager version built in memory (3^20 tuples on 20 models)."""
    import itertools

    from search.scar import _with_sum

    rng = np.random.default_rng(0)
    for _ in range(20):
        bounds = [int(b) for b in rng.integers(1, 4, size=int(rng.integers(1, 7)))]
        every = sorted(itertools.product(*[range(b) for b in bounds]), key=lambda v: (sum(v), v))
        lazy = [v for r in range(sum(b - 1 for b in bounds) + 1) for v in _with_sum(bounds, r)]
        assert lazy == every


def test_scar_runs_on_twenty_models():
    """sc5x4 (20 models) on 16x16: the candidate order no longer enumerates 3^20 tuples up front."""
    from costmodel import Problem, mcm, scenario
    from search import Budget, run

    p = Problem(scenario("sc5x4"), mcm("het-sides", 16, 16))
    r = run(p, "scar", Budget(evals=64), seed=0)
    assert r.n_evals == 64 and np.isfinite(r.best_fitness)
