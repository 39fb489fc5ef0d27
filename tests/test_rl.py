"""RL agents (search.rl): REINFORCE in numpy and MaskablePPO (the optional ``rl`` extra), both on
Mapping-v0 through the counting evaluator. A tiny two-model workload on a 2x2 MCM keeps it fast."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from costmodel import Layer, Model, Problem, Workload, mcm
from search import Budget, Evaluator, make_agent, run
from search.rl import RL_EXTRA_HINT, counted_mapping_env


@pytest.fixture(scope="module")
def tiny() -> Problem:
    """A CNN with a skip (batch 2) and a GEMM chain (batch 4) on 2x2 het-sides."""
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
    return Problem(Workload([cnn, mlp]), mcm("het-sides", 2, 2))


def _curve(result) -> list[tuple]:
    """The history without its wall-clock field: what must repeat bit for bit."""
    return [tuple(sorted((k, v) for k, v in h.items() if k != "seconds")) for h in result.history]


def _fitness(result) -> np.ndarray:
    return np.array([h["pop_mean"] for h in result.history])


# --- counting ---------------------------------------------------------------------------------------
def test_counted_env_evaluates_each_episode_once_through_the_evaluator(tiny):
    ev = Evaluator(tiny, Budget(evals=3))
    e = counted_mapping_env(tiny, ev)
    rng = np.random.default_rng(0)
    for episode in range(3):
        e.reset()
        steps = 0
        while True:
            _, reward, term, trunc, info = e.step(int(rng.choice(np.flatnonzero(e.action_masks()))))
            steps += 1
            if term or trunc:
                break
            assert ev.n_evals == episode  # nothing is evaluated before the episode ends
        assert ev.n_evals == episode + 1
        fit = ev.history[-1]["pop_mean"]
        assert info["objective"] == fit
        assert reward == -fit / e.reference
        assert tiny.fitness(info["genome"][None, :])[0] == fit
    e.reset()
    from search import BudgetExhausted

    with pytest.raises(BudgetExhausted):
        while True:
            e.step(0)


# --- REINFORCE --------------------------------------------------------------------------------------
def test_reinforce_valid_counted_and_deterministic(tiny):
    a = run(tiny, "reinforce", Budget(evals=200), seed=0)
    b = run(tiny, "reinforce", Budget(evals=200), seed=0)
    assert a.algorithm == "reinforce" and a.n_evals == 200 and len(a.history) == 200
    tiny.validate(a.best_schedule)
    assert np.array_equal(tiny.encode(a.best_schedule), a.best_genome)
    assert a.best_fitness == pytest.approx(tiny.fitness(a.best_genome[None, :])[0])
    assert a.best_fitness == min(_fitness(a))
    # bit for bit
    assert np.array_equal(a.best_genome, b.best_genome)
    assert a.best_fitness == b.best_fitness
    assert _curve(a) == _curve(b)
    assert a.extra["episodes"] == 200 and a.extra["updates"] > 0
    c = run(tiny, "reinforce", Budget(evals=200), seed=1)
    assert _curve(c) != _curve(a)


def test_reinforce_learns(tiny):
    r = run(tiny, "reinforce", Budget(evals=200), seed=0)
    f = _fitness(r)
    first, last = f[:40].mean(), f[-40:].mean()
    random_mean = tiny.fitness(tiny.sample(200, seed=0)).mean()
    assert last < 0.8 * first, (first, last)
    assert last < 0.8 * random_mean, (random_mean, last)
    assert r.extra["return_last"] > r.extra["return_first"]


def test_reinforce_hidden_layer_and_options(tiny):
    r = run(
        tiny,
        "reinforce",
        Budget(evals=48),
        seed=3,
        hidden=8,
        episodes_per_update=4,
        entropy=0.01,
        baseline_decay=0.0,
        micro_batch="max",
    )
    assert r.n_evals == 48 and r.extra["updates"] == 11  # no step after the last batch
    tiny.validate(r.best_schedule)


def test_reinforce_stops_inside_a_batch_and_on_seconds(tiny):
    r = run(tiny, "reinforce", Budget(evals=5), seed=0, episodes_per_update=8)
    assert r.n_evals == 5 and r.extra["updates"] == 0
    r = run(tiny, "reinforce", Budget(seconds=0.3), seed=0)
    assert r.n_evals > 0 and r.seconds < 5


@pytest.mark.parametrize(
    "options",
    [
        {"bogus": 1},
        {"lr": 0},
        {"lr": -0.1},
        {"lr": float("nan")},
        {"episodes_per_update": 0},
        {"episodes_per_update": 2.5},
        {"hidden": -1},
        {"hidden": True},
        {"baseline_decay": 1.0},
        {"entropy": -1},
        {"micro_batch": "mid"},
    ],
)
def test_reinforce_bad_option(tiny, options):
    with pytest.raises(ValueError):
        run(tiny, "reinforce", Budget(evals=10), seed=0, **options)


# --- MaskablePPO ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "options",
    [
        {"bogus": 1},
        {"n_steps": 0},
        {"n_envs": 0},
        {"learning_rate": -1},
        {"gamma": 1.5},
        {"net_arch": [64, 0]},
        {"net_arch": 64},
        {"shaped": "yes"},
        {"micro_batch": "mid"},
    ],
)
def test_ppo_bad_option(options):
    with pytest.raises(ValueError):
        make_agent("ppo", **options)  # checked before sb3 is imported: no extra needed


def test_ppo_without_the_rl_extra_names_it(tiny, monkeypatch):
    monkeypatch.setitem(sys.modules, "sb3_contrib", None)  # import sb3_contrib -> ImportError
    with pytest.raises(ImportError, match="'rl' extra"):
        run(tiny, "ppo", Budget(evals=4), seed=0)
    assert "pip install torch==2.13.0" in RL_EXTRA_HINT


PPO_SMALL = {"n_envs": 2, "n_steps": 16, "batch_size": 16, "n_epochs": 2, "net_arch": [16]}


def test_ppo_runs_counts_and_is_deterministic(tiny):
    torch = pytest.importorskip("torch")
    pytest.importorskip("sb3_contrib")
    threads = torch.get_num_threads()
    state = np.random.get_state()
    a = run(tiny, "ppo", Budget(evals=40), seed=0, **PPO_SMALL)
    b = run(tiny, "ppo", Budget(evals=40), seed=0, **PPO_SMALL)
    assert a.algorithm == "ppo" and a.n_evals == 40 and len(a.history) == 40
    tiny.validate(a.best_schedule)
    assert a.best_fitness == pytest.approx(tiny.fitness(a.best_genome[None, :])[0])
    assert np.array_equal(a.best_genome, b.best_genome)
    assert _curve(a) == _curve(b)
    assert a.extra["steps"] > 2 * PPO_SMALL["n_steps"]  # it went through policy updates
    # the process is left as it was: torch threads and numpy's global random state
    assert torch.get_num_threads() == threads
    after = np.random.get_state()
    assert all(np.array_equal(x, y) for x, y in zip(state, after))
