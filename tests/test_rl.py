"""RL agents (search.rl): REINFORCE in numpy and MaskablePPO (the optional ``rl`` extra), both on
Mapping-v0 through the counting evaluator. A tiny two-model workload on a 2x2 MCM keeps it fast."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from costmodel import Problem, mcm
from search import Budget, Evaluator, make_agent, run
from search.rl import RL_EXTRA_HINT, counted_mapping_env


@pytest.fixture(scope="module")
def tiny(cnn_gemm_workload) -> Problem:
    """A CNN with a skip (batch 2) and a GEMM chain (batch 4) on 2x2 het-sides."""
    return Problem(cnn_gemm_workload, mcm("het-sides", 2, 2))


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
    assert a.algorithm == "ppo" and a.n_evals == 40 and a.history[-1]["evals"] == 40
    # episodes that end on the same step are evaluated in one call: at most one record each
    assert len(a.history) <= 40
    tiny.validate(a.best_schedule)
    assert a.best_fitness == pytest.approx(tiny.fitness(a.best_genome[None, :])[0])
    assert np.array_equal(a.best_genome, b.best_genome)
    assert _curve(a) == _curve(b)
    assert a.extra["steps"] > 2 * PPO_SMALL["n_steps"]  # it went through policy updates
    # the process is left as it was: torch threads and numpy's global random state
    assert torch.get_num_threads() == threads
    after = np.random.get_state()
    assert all(np.array_equal(x, y) for x, y in zip(state, after))


# --- the chiplet-attention policy, learning curves, checkpoints (issue 13) ----------------------------
def _dict_env(p, **kw):
    from env.mapping import MappingEnv

    return MappingEnv(problem=p, obs="dict", **kw)


def test_policy_scores_permute_with_the_chiplets(tiny):
    """Permuting the chiplet rows permutes the chiplet scores the same way; the other actions'
    logits and the value do not change (also with padding slots)."""
    torch = pytest.importorskip("torch")
    from search.policies import ChipletPolicyNet, as_tensors

    e = _dict_env(tiny, micro_batch="choose", pad_chiplets=6)
    rng = np.random.default_rng(0)
    obs, _ = e.reset(seed=0)
    for _ in range(3):  # a state with loads and producers in it
        obs, *_ = e.step(int(rng.choice(np.flatnonzero(e.action_masks()[:4]))))
    n_extra = int(e.action_space.n) - e.slots
    torch.manual_seed(0)
    net = ChipletPolicyNet(e.observation_space, n_extra, d=16, blocks=2)
    x = as_tensors(obs, batched=False)
    perm = np.array([2, 0, 3, 1, 5, 4])  # real chiplets among themselves, padding too
    y = dict(x)
    y["chiplets"] = x["chiplets"][:, perm]
    y["chiplet_mask"] = x["chiplet_mask"][:, perm]
    with torch.no_grad():
        lx, vx = net(x)
        ly, vy = net(y)
    assert torch.allclose(ly[0, :6], lx[0, perm], atol=1e-5)
    assert torch.allclose(ly[0, 6:], lx[0, 6:], atol=1e-5)
    assert torch.allclose(vy, vx, atol=1e-5)
    assert lx[0, 4:6].max() < -1e8  # padding slots are never likely
    assert not torch.allclose(lx[0, :4], lx[0, :4].mean().expand(4))  # scores do differ


def test_attention_reinforce_counts_learns_and_logs(tiny, tmp_path):
    pytest.importorskip("torch")
    opts = {"policy": "attention", "lr": 3e-3, "episodes_per_update": 8, "d_model": 16}
    a = run(tiny, "reinforce", Budget(evals=160), seed=0, log_dir=tmp_path / "a", **opts)
    b = run(tiny, "reinforce", Budget(evals=160), seed=0, **opts)
    assert a.n_evals == 160 and a.history[-1]["evals"] == 160
    assert len(a.history) == 20  # one evaluation call per batch of 8 lockstep episodes
    assert np.array_equal(a.best_genome, b.best_genome) and _curve(a) == _curve(b)
    tiny.validate(a.best_schedule)
    assert a.best_fitness == pytest.approx(tiny.fitness(a.best_genome[None, :])[0])
    f = _fitness(a)
    assert f[-4:].mean() < f[:4].mean(), f  # it learned something
    lines = (tmp_path / "a" / "learning.jsonl").read_text().splitlines()
    import json

    recs = [json.loads(x) for x in lines]
    assert len(recs) == 20 and recs[-1]["evals"] == 160
    assert recs[-1]["best"] == pytest.approx(a.best_fitness)
    assert all(r["episodes"] == 8 for r in recs)
    assert [r["best"] for r in recs] == sorted((r["best"] for r in recs), reverse=True)
    ent = [r["entropy"] for r in recs[:-1]]
    assert 0 < ent[0] <= np.log(5) + 1e-6  # at most uniform over 4 chiplets + close
    # the picture, and the command line's one-line refusal of a folder without the file
    from experiments.learning import learning_curves, main

    assert learning_curves([tmp_path / "a"], tmp_path / "l.png", "edp").stat().st_size > 0
    assert main([str(tmp_path / "nothing"), "-o", str(tmp_path / "x.png")]) == 2
    assert not (tmp_path / "x.png").exists()


def test_attention_ppo_runs_and_logs(tiny, tmp_path):
    pytest.importorskip("sb3_contrib")
    opts = {"policy": "attention", "n_envs": 4, "n_steps": 16, "batch_size": 64, "d_model": 16}
    r = run(tiny, "ppo", Budget(evals=40), seed=0, log_dir=tmp_path, **opts)
    assert r.n_evals == 40
    tiny.validate(r.best_schedule)
    import json

    recs = [json.loads(x) for x in (tmp_path / "learning.jsonl").read_text().splitlines()]
    assert recs and sum(x["episodes"] for x in recs) <= 40
    assert any(np.isfinite(x["entropy"]) for x in recs)  # from the updates after the first


def _no_update(p, tmp_path, name, **opts):
    """A run too short for any update: its checkpoint is what it resumed from."""
    return run(p, "reinforce", Budget(evals=2), seed=5, checkpoint=tmp_path / name, **opts)


@pytest.mark.parametrize("policy", ["linear", "attention"])
def test_checkpoint_resume_and_mismatch(tiny, tmp_path, policy):
    if policy == "attention":
        torch = pytest.importorskip("torch")
    opts = {"policy": policy, "episodes_per_update": 4}
    if policy == "attention":
        opts["d_model"] = 16
    run(tiny, "reinforce", Budget(evals=24), seed=0, checkpoint=tmp_path / "a", **opts)
    _no_update(tiny, tmp_path, "b", resume=tmp_path / "a", **opts)
    if policy == "linear":
        with np.load(tmp_path / "a") as za, np.load(tmp_path / "b") as zb:
            assert za["param0"].any()  # trained
            for k in za.files:
                assert np.array_equal(za[k], zb[k]), k
    else:
        sa = torch.load(tmp_path / "a", weights_only=True)
        sb = torch.load(tmp_path / "b", weights_only=True)
        for k, v in sa["net"].items():
            assert torch.equal(v, sb["net"][k]), k
        assert sa["baseline_mean"] == sb["baseline_mean"]
    # another layout: a ValueError naming the first difference
    other = "attention" if policy == "linear" else "linear"
    other_opts = {"policy": other, "d_model": 16} if other == "attention" else {"policy": other}
    with pytest.raises(ValueError, match="its policy is"):
        _no_update(tiny, tmp_path, "c", resume=tmp_path / "a", **other_opts)
    if policy == "attention":
        with pytest.raises(ValueError, match="its pad_chiplets is 4, this run's is 6"):
            _no_update(tiny, tmp_path, "c", resume=tmp_path / "a", pad_chiplets=6, **opts)
        with pytest.raises(ValueError, match="its d_model is 16"):
            _no_update(tiny, tmp_path, "c", resume=tmp_path / "a", **{**opts, "d_model": 8})
    with pytest.raises(ValueError, match="its n_actions"):
        _no_update(tiny, tmp_path, "c", resume=tmp_path / "a", micro_batch="choose", **opts)


def test_resume_bad_files(tiny, tmp_path):
    with pytest.raises(ValueError, match="no checkpoint file"):
        run(tiny, "reinforce", Budget(evals=2), seed=0, resume=tmp_path / "missing")
    (tmp_path / "junk").write_text("not a checkpoint")
    with pytest.raises(ValueError, match="not a checkpoint"):
        run(tiny, "reinforce", Budget(evals=2), seed=0, resume=tmp_path / "junk")
    for bad in ({"policy": "graph"}, {"checkpoint": 3}, {"pad_chiplets": 8}, {"d_model": 0}):
        with pytest.raises(ValueError):
            make_agent("reinforce", **bad)
    for bad in ({"policy": "graph"}, {"pad_models": 3}, {"resume": 1.5}):
        with pytest.raises(ValueError):
            make_agent("ppo", **bad)


def test_ppo_checkpoint_resume(tiny, tmp_path):
    torch = pytest.importorskip("torch")
    pytest.importorskip("sb3_contrib")
    opts = {"policy": "attention", "n_envs": 2, "n_steps": 8, "batch_size": 16, "d_model": 16}
    run(tiny, "ppo", Budget(evals=12), seed=0, checkpoint=tmp_path / "a", **opts)
    # resumed, then saved after a budget that ends inside the first rollout: no update
    run(
        tiny,
        "ppo",
        Budget(evals=1),
        seed=1,
        resume=tmp_path / "a",
        checkpoint=tmp_path / "b",
        **opts,
    )
    sa = torch.load(tmp_path / "a", weights_only=True)["policy"]
    sb = torch.load(tmp_path / "b", weights_only=True)["policy"]
    assert all(torch.equal(v, sb[k]) for k, v in sa.items())
    with pytest.raises(ValueError, match="its policy is 'attention', this run's is 'mlp'"):
        run(tiny, "ppo", Budget(evals=1), seed=0, resume=tmp_path / "a", n_envs=2)


def test_attention_without_the_rl_extra_names_it(tiny, monkeypatch):
    for name in [k for k in sys.modules if k.startswith("sb3_contrib")] + ["sb3_contrib"]:
        monkeypatch.setitem(sys.modules, name, None)  # every import of it -> ImportError
    monkeypatch.delitem(sys.modules, "search.policies", raising=False)
    with pytest.raises(ImportError, match="'rl' extra"):
        run(tiny, "reinforce", Budget(evals=4), seed=0, policy="attention")


def test_ppo_policy_logits_permute_with_the_chiplets(tiny):
    """End to end through SB3: the MaskablePPO policy's action logits (features extractor,
    identity action head) permute with the chiplets; the value does not change."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("sb3_contrib")
    from search.policies import ChipletActorCriticPolicy, as_tensors

    e = _dict_env(tiny)
    torch.manual_seed(0)
    pol = ChipletActorCriticPolicy(e.observation_space, e.action_space, lambda _: 1e-3, d=16)
    assert isinstance(pol.action_net, torch.nn.Identity)
    obs, _ = e.reset()
    obs, *_ = e.step(1)
    x = as_tensors(obs, batched=False)
    perm = np.array([3, 1, 0, 2])
    y = {**x, "chiplets": x["chiplets"][:, perm]}
    with torch.no_grad():
        lx = pol.get_distribution(x).distribution.logits
        ly = pol.get_distribution(y).distribution.logits
        vx, vy = pol.predict_values(x), pol.predict_values(y)
    assert torch.allclose(ly[0, :4], lx[0, perm], atol=1e-5)
    assert torch.allclose(ly[0, 4:], lx[0, 4:], atol=1e-5)
    assert torch.allclose(vx, vy, atol=1e-5)
