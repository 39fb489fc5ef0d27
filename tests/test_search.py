import json

import numpy as np
import pytest

from costmodel import Layer, Model, Problem, Workload, mcm, scenario
from search import AGENTS, Budget, Evaluator, run
from search.operators import GenomeOps


@pytest.fixture(scope="module")
def sc1():
    return Problem(scenario("sc1"), mcm("het-sides", 3, 3))


def tiny():
    a = Model(
        "cnn",
        [
            Layer.conv("c0", K=32, C=3, R=3, Yo=56),
            Layer.conv("c1", K=64, C=32, R=3, Yo=28),
            Layer.gemm("fc", M=1, N=10, K=64),
        ],
        batch=2,
    )
    b = Model("mlp", [Layer.gemm(f"g{i}", M=32, N=256, K=256) for i in range(3)], batch=4)
    return Problem(Workload([a, b]), mcm("het-sides", 2, 2), max_windows=2)


def _strip(history):
    return [{k: v for k, v in h.items() if k != "seconds"} for h in history]


@pytest.mark.parametrize("algo", ["random", "ga", "sa", "nsga2"])
def test_agents_deterministic_and_valid(sc1, algo):
    a = run(sc1, algo, Budget(evals=300), seed=7)
    b = run(sc1, algo, Budget(evals=300), seed=7)
    assert np.array_equal(a.best_genome, b.best_genome)
    assert _strip(a.history) == _strip(b.history)
    assert a.n_evals == 300 and a.history[-1]["evals"] == 300
    sc1.validate(a.best_schedule)
    assert a.best_fitness == pytest.approx(sc1.fitness(a.best_genome[None])[0])
    assert a.metrics["edp"] == pytest.approx(a.best_fitness)
    bests = [h["best"] for h in a.history]
    assert bests == sorted(bests, reverse=True)  # best-so-far never worsens


def test_ga_and_sa_beat_random(sc1):
    rnd = run(sc1, "random", Budget(evals=1000), seed=0).best_fitness
    for algo in ("ga", "sa"):
        assert run(sc1, algo, Budget(evals=1000), seed=0).best_fitness < rnd


def test_history_jsonl_and_result_written(tmp_path, sc1):
    r = run(sc1, "ga", Budget(evals=200), seed=1, log_dir=tmp_path)
    lines = (tmp_path / "history.jsonl").read_text().splitlines()
    assert len(lines) == len(r.history) and json.loads(lines[-1])["evals"] == 200
    out = json.loads((tmp_path / "result.json").read_text())
    assert out["best"] == r.best_fitness and out["algorithm"] == "ga"


@pytest.mark.parametrize("algo", ["ga", "sa"])
def test_improvements_history_keeps_every_best_so_far_change(tmp_path, sc1, algo):
    # the same run logged per call and improvement-only: the second is the first's records
    # where the best fell (and the first and last call), so every best-so-far reading agrees
    full = run(sc1, algo, Budget(evals=300), seed=3)
    thin = run(sc1, algo, Budget(evals=300), seed=3, log_dir=tmp_path, history="improvements")
    assert thin.best_fitness == full.best_fitness
    a, b = _strip(full.history), _strip(thin.history)
    want = [h for i, h in enumerate(a) if i == 0 or i == len(a) - 1 or h["best"] < a[i - 1]["best"]]
    assert b == want and len(b) < len(a)
    assert b[-1]["evals"] == 300
    lines = [json.loads(x) for x in (tmp_path / "history.jsonl").read_text().splitlines()]
    assert _strip(lines) == b
    for x in range(1, 301, 7):  # best so far after x evaluations, read off each history
        at = [[h["best"] for h in hs if h["evals"] <= x] for hs in (a, b)]
        assert (at[0] or [None])[-1] == (at[1] or [None])[-1]


def test_unknown_history_mode_is_refused(sc1):
    with pytest.raises(ValueError, match="unknown history 'all'; choices: calls, improvements"):
        run(sc1, "random", Budget(evals=10), history="all")


def test_nsga2_front_is_non_dominated_with_hypervolume(sc1):
    r = run(sc1, "nsga2", Budget(evals=400), seed=0)
    F = np.array([[p["latency_s"], p["energy_j"]] for p in r.pareto])
    assert len(F) >= 1
    for i in range(len(F)):
        dominated = np.all(F <= F[i], axis=1) & np.any(F < F[i], axis=1)
        assert not dominated.any()
    assert 0 < r.extra["hypervolume"] <= 1
    hv = [h for _, h in r.extra["hv_curve"]]
    assert hv == sorted(hv)  # the archive's hypervolume never shrinks


def test_seconds_budget_stops():
    p = tiny()
    r = run(p, "random", Budget(seconds=0.3), seed=0)
    assert r.seconds < 5 and r.n_evals > 0


def test_operators_keep_genomes_valid():
    p = tiny()
    ops = GenomeOps(p)
    rng = np.random.default_rng(0)
    pop = p.sample(20, seed=0)
    for _ in range(50):
        a, b = pop[rng.integers(20)], pop[rng.integers(20)]
        child = ops.mutate(ops.crossover(a, b, rng), rng, n_moves=3)
        p.decode(child)  # raises if invalid


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda p: run(p, "tabu", Budget(evals=10)), "unknown agent 'tabu'; choices"),
        (lambda p: run(p, "ga", Budget(evals=10), colour=1), "does not take option 'colour'"),
        (lambda p: Budget(evals=0), "evals must be a positive"),
        (lambda p: Budget(), "budget needs"),
        (lambda p: run(p, "ga", None), "needs a budget"),
    ],
)
def test_bad_input(call, message):
    with pytest.raises(ValueError, match=message):
        call(tiny())


def test_every_registered_agent_name_resolves():
    from search import agent_class

    for name in AGENTS:
        try:
            assert agent_class(name).name == name
        except ImportError:  # an extra that is not installed
            pass


def test_evaluator_counts_and_truncates():
    p = tiny()
    ev = Evaluator(p, Budget(evals=10))
    assert len(ev(p.sample(8, seed=0))) == 8
    assert len(ev(p.sample(8, seed=1))) == 2 and ev.exhausted


@pytest.fixture(scope="module")
def small_with_optimum():
    from search.exact import optimum, small_instance

    p = small_instance(0)
    return p, optimum(p)[1]


@pytest.mark.parametrize("algo", ["ga", "sa"])
def test_small_instance_exact_optimum_in_2000_evals(small_with_optimum, algo):
    """Issue 5: ga and sa reach the proven optimum within 2,000 evaluations for >= 9 of 10 seeds
    (the exhaustive agent proves the optimum over 589,824 schedules)."""
    p, opt = small_with_optimum
    hits = sum(
        run(p, algo, Budget(evals=2000), seed=s).best_fitness <= opt * (1 + 1e-9) for s in range(10)
    )
    assert hits >= 9


def test_cached_evaluations_count_only_new_schedules():
    p = tiny()
    ev = Evaluator(p, Budget(evals=100))
    g = p.sample(5, seed=0)
    f1 = ev.cached(np.concatenate([g, g]))
    assert ev.n_evals == 5 and np.array_equal(f1[:5], f1[5:])
    f2 = ev.cached(g)
    assert ev.n_evals == 5 and np.array_equal(f1[:5], f2)


def test_every_yes_no_option_takes_only_true_or_false():
    # a bool option given "maybe" or 1 was taken as its truthiness by some agents
    from search import AGENTS, agent_class, make_agent

    checked = 0
    for name in AGENTS:
        for key, default in agent_class(name).options.items():
            if isinstance(default, bool):
                for bad in ("maybe", 1):
                    with pytest.raises(ValueError, match=f"option '{key}' must be true or false"):
                        make_agent(name, **{key: bad})
                checked += 1
    assert checked >= 10  # seed_baselines, adapt, plus, learn, restarts, shaped, ...
