"""Gymnasium environments (issue 4): API conformance, reward = the shared evaluator, masks,
invalid actions, determinism. Mostly a tiny two-model workload on a 2x2 MCM, so the file is fast."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import env  # noqa: F401  (registers the environments)
from costmodel import Problem, mcm
from env.design import DesignEnv
from env.features import interleaved_order
from env.mapping import MappingEnv

MAPPING, DESIGN = "chiplet_sched/Mapping-v0", "chiplet_sched/Design-v0"


@pytest.fixture(scope="module")
def tiny(cnn_gemm_workload) -> Problem:
    """Two small models (a CNN with a skip, batch 2; a GEMM chain, batch 4) on 2x2 het-sides."""
    return Problem(cnn_gemm_workload, mcm("het-sides", 2, 2), objective="edp", max_windows=3)


def masked_rollout(e: MappingEnv, seed: int = 0, actions: list | None = None):
    """Run an episode with uniformly random valid actions; returns (rewards, obs, last info)."""
    rng = np.random.default_rng(seed)
    obs, _ = e.reset(seed=seed)
    rewards, observations = [], [obs]
    while True:
        a = int(rng.choice(np.flatnonzero(e.action_masks())))
        if actions is not None:
            actions.append(a)
        obs, r, term, trunc, info = e.step(a)
        assert e.observation_space.contains(obs)
        rewards.append(r)
        observations.append(obs)
        if term or trunc:
            assert term and not trunc
            return rewards, observations, info


# --- conformance ----------------------------------------------------------------------------------
@pytest.mark.parametrize("env_id", [MAPPING, DESIGN])
def test_check_env(tiny, env_id):
    e = gym.make(env_id, problem=tiny, render_mode="ansi").unwrapped
    check_env(e, skip_render_check=False)


def test_check_env_defaults():
    e = gym.make(MAPPING, render_mode="ansi").unwrapped  # sc1 on 3x3 het-sides, EDP
    check_env(e, skip_render_check=False)
    assert e.problem.mcm.n_chiplets == 9 and e.problem.objective == "edp"
    assert e.action_space.n == 10


def test_make_and_make_vec(tiny):
    e = gym.make(MAPPING, problem=tiny)
    obs, _ = e.reset(seed=1)
    assert obs.shape == e.observation_space.shape
    mask = e.unwrapped.action_masks()
    assert mask.dtype == bool and mask.shape == (e.action_space.n,)
    assert np.array_equal(e.get_wrapper_attr("action_masks")(), mask)
    v = gym.make_vec(MAPPING, num_envs=2, vectorization_mode="sync", problem=tiny)
    obs, _ = v.reset(seed=0)
    assert obs.shape == (2, *e.observation_space.shape)
    for _ in range(30):  # beyond one episode: exercises autoreset
        obs, r, term, trunc, _ = v.step(np.array([0, 1]))
        assert obs.shape[0] == 2 and np.all(np.isfinite(r))
    v.close()
    d = gym.make_vec(DESIGN, num_envs=2, vectorization_mode="sync", problem=tiny)
    d.reset(seed=0)
    _, r, term, _, _ = d.step(d.action_space.sample())
    assert np.all(term) and np.all(r < 0)
    d.close()


# --- mapping episodes -----------------------------------------------------------------------------
def test_masked_rollout_reward_is_the_shared_fitness(tiny):
    e = MappingEnv(problem=tiny)
    for seed in range(5):
        rewards, _, info = masked_rollout(e, seed)
        assert all(r == 0.0 for r in rewards[:-1])
        assert np.isfinite(rewards[-1]) and rewards[-1] < 0
        for k in ("latency_s", "energy_j", "edp", "throughput", "objective"):
            assert np.isfinite(info[k]) and info[k] > 0
        assert info["invalid_actions"] == 0
        g = info["genome"]
        assert rewards[-1] == pytest.approx(-tiny.fitness(g[None])[0] / e.reference, rel=1e-12)
        assert info["edp"] == pytest.approx(info["latency_s"] * info["energy_j"])
        s = tiny.decode(g)  # valid: windows in order, micro-batches allowed
        assert tiny.evaluate(s).edp == pytest.approx(info["edp"], rel=1e-9)
        assert len(rewards) <= tiny.n_layers + tiny.n_models * (tiny.max_windows - 1)


def test_reference_is_mean_of_random_genomes(tiny):
    e = MappingEnv(problem=tiny)
    assert e.reference == pytest.approx(float(np.mean(tiny.fitness(tiny.sample(64, seed=0)))))
    assert DesignEnv(problem=tiny).reference == e.reference


def test_shaped_return_equals_final_reward(tiny):
    plain, shaped = MappingEnv(problem=tiny), MappingEnv(problem=tiny, shaped=True)
    r0, _, i0 = masked_rollout(plain, seed=3)
    r1, _, i1 = masked_rollout(shaped, seed=3)
    assert np.array_equal(i0["genome"], i1["genome"])
    assert any(r != 0 for r in r1[:-1])
    assert sum(r1) == pytest.approx(r0[-1], abs=1e-9)


def test_seeded_reset_reproduces(tiny):
    a, b = MappingEnv(problem=tiny), MappingEnv(problem=tiny)
    acts_a: list = []
    acts_b: list = []
    ra, oa, _ = masked_rollout(a, seed=7, actions=acts_a)
    rb, ob, _ = masked_rollout(b, seed=7, actions=acts_b)
    rc, oc, _ = masked_rollout(a, seed=7)
    assert acts_a == acts_b and ra == rb == rc
    for x, y, z in zip(oa, ob, oc):
        assert np.array_equal(x, y) and np.array_equal(x, z)
    o1, _ = a.reset(seed=11)
    o2, _ = a.reset(seed=11)
    assert np.array_equal(o1, o2)


def test_masks_and_windows(tiny):
    e = MappingEnv(problem=tiny)
    n, W = tiny.mcm.n_chiplets, tiny.max_windows
    e.reset(seed=0)
    assert not e.action_masks()[n]  # nothing in the window yet
    assert e.action_masks()[:n].all()
    # place and close until the first model reaches its last window
    first = int(tiny.index.model[e.features.order[0]])
    closes = 0
    for _ in range(40):
        m = int(tiny.index.model[e.features.order[e._k]])
        if m == first and e.action_masks()[n]:
            e.step(n)
            closes += 1
        else:
            e.step(0)
        if closes == W - 1:
            break
    assert closes == W - 1
    e.step(0)  # first model now has a layer in its last window
    while int(tiny.index.model[e.features.order[e._k]]) != first:
        e.step(0)
    assert not e.action_masks()[n]  # the last window cannot close


def test_interleaved_order(tiny):
    order = interleaved_order(tiny)
    assert sorted(order.tolist()) == list(range(tiny.n_layers))
    for m in range(tiny.n_models):
        mine = [g for g in order if tiny.index.model[g] == m]
        assert mine == sorted(mine)


def test_micro_batch_option(tiny):
    for option, pick in (("min", lambda o: 0), ("max", lambda o: len(o) - 1)):
        e = MappingEnv(problem=tiny, micro_batch=option)
        _, _, info = masked_rollout(e, seed=0)
        _, _, mb = tiny.split(info["genome"][None])
        for m, opts in enumerate(tiny.mb_options):
            assert (mb[0, m] == pick(opts)).all()


# --- invalid actions, truncation, rendering -------------------------------------------------------
def test_invalid_actions_are_ignored_with_penalty(tiny):
    e = MappingEnv(problem=tiny, invalid_penalty=0.5)
    n = tiny.mcm.n_chiplets
    obs, _ = e.reset(seed=0)
    for bad in (n, n + 1, -1, 10**9, "x", None):  # close on an empty window, then out of range
        o, r, term, trunc, info = e.step(bad)
        assert r == -0.5 and not term and not trunc
        assert np.array_equal(o, obs)
    assert info["invalid_actions"] == 6
    assert np.array_equal(e.genome()[: tiny.n_layers], np.full(tiny.n_layers, -1))


def test_truncation_completes_the_schedule(tiny):
    e = MappingEnv(problem=tiny)
    n = tiny.mcm.n_chiplets
    e.reset(seed=0)
    e.step(2)  # one real placement, then only invalid actions
    steps = 1
    while True:
        _, r, term, trunc, info = e.step(n + 5)
        steps += 1
        if term or trunc:
            break
    assert trunc and not term and steps == e.max_steps
    assert info["defaulted_layers"] == tiny.n_layers - 1
    assert np.isfinite(r) and np.isfinite(info["objective"])
    g = info["genome"]
    expect = -tiny.fitness(g[None])[0] / e.reference - 0.01
    assert r == pytest.approx(expect, rel=1e-12)
    with pytest.raises(RuntimeError, match="reset"):
        e.step(0)


def test_unmasked_random_actions_terminate(tiny):
    e = MappingEnv(problem=tiny)
    e.reset(seed=0)
    e.action_space.seed(0)
    for _ in range(e.max_steps):
        _, r, term, trunc, info = e.step(e.action_space.sample())
        if term or trunc:
            break
    assert (term or trunc) and np.isfinite(r) and "edp" in info


def test_render_ansi(tiny):
    e = MappingEnv(problem=tiny, render_mode="ansi")
    e.reset(seed=0)
    assert isinstance(e.render(), str)
    masked_rollout(e, seed=0)
    text = e.render()
    assert isinstance(text, str) and "cnn" in text and "mlp" in text and "w0:" in text
    assert MappingEnv(problem=tiny).render() is None
    d = DesignEnv(problem=tiny, render_mode="ansi")
    d.reset(seed=0)
    assert "no genome" in d.render()
    d.step(d.action_space.sample())
    assert "latency" in d.render()


# --- design ---------------------------------------------------------------------------------------
def test_design_step(tiny):
    e = DesignEnv(problem=tiny)
    obs, _ = e.reset(seed=0)
    assert e.observation_space.contains(obs)
    assert np.array_equal(e.action_space.nvec, tiny.nvec)
    good = tiny.sample(1, seed=4)[0]
    _, r, term, trunc, info = e.step(good)
    assert term and not trunc and not info["repaired"]
    assert r == pytest.approx(-tiny.fitness(good[None])[0] / e.reference, rel=1e-12)
    assert np.array_equal(info["genome"], good)
    bad = good.copy()
    L = tiny.n_layers
    bad[L : L + 5] = [2, 1, 0, 0, 0]  # cnn windows go backwards
    e.reset()
    _, r, _, _, info = e.step(bad)
    assert info["repaired"] and list(info["genome"][L : L + 5]) == [2, 2, 2, 2, 2]
    assert r == pytest.approx(-tiny.fitness(tiny.repair(bad[None]))[0] / e.reference)
    with pytest.raises(RuntimeError):
        e.step(good)
    e.reset()
    with pytest.raises(ValueError, match="length"):
        e.step(good[:-1])


# --- constructor validation -----------------------------------------------------------------------
@pytest.mark.parametrize("cls", [MappingEnv, DesignEnv])
@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"scenario": "sc99"}, "scenario"),
        ({"scenario": 3}, "scenario"),
        ({"pattern": "stripes"}, "pattern"),
        ({"rows": 0}, "rows"),
        ({"cols": 1.5}, "cols"),
        ({"objective": "speed"}, "objective"),
        ({"max_windows": 0}, "max_windows"),
        ({"problem": "sc1"}, "problem"),
        ({"render_mode": "human"}, "render_mode"),
    ],
)
def test_bad_arguments(cls, kwargs, field):
    with pytest.raises(ValueError, match=field):
        cls(**kwargs)


def test_bad_mapping_arguments(tiny):
    for kwargs, field in (
        ({"micro_batch": "mid"}, "micro_batch"),
        ({"max_steps": 3}, "max_steps"),
        ({"invalid_penalty": -1.0}, "invalid_penalty"),
        ({"scenario": "sc1"}, "scenario"),  # together with problem=
    ):
        with pytest.raises(ValueError, match=field):
            MappingEnv(problem=tiny, **kwargs)
    with pytest.raises(ValueError, match="objective"):
        gym.make(MAPPING, objective="speed")


# --- the dict observation (obs="dict"), padding, micro-batch actions, vectorized batches --------------
from env.features import squash  # noqa: E402
from env.observation import CHIPLET_FEATURES, LAYER_FEATURES, MODEL_FEATURES  # noqa: E402
from env.vector import MappingVectorEnv  # noqa: E402

CF = {k: i for i, k in enumerate(CHIPLET_FEATURES)}
LF = {k: i for i, k in enumerate(LAYER_FEATURES)}
MF = {k: i for i, k in enumerate(MODEL_FEATURES)}


@pytest.mark.parametrize(
    "kwargs",
    [
        {"obs": "dict"},
        {"obs": "dict", "micro_batch": "choose", "pad_chiplets": 7, "pad_models": 4},
        {"micro_batch": "choose"},  # the flat Box with micro-batch actions
    ],
)
def test_check_env_dict_and_choose(tiny, kwargs):
    e = MappingEnv(problem=tiny, render_mode="ansi", **kwargs)
    check_env(e, skip_render_check=False)
    _, _, info = masked_rollout(e, seed=3)  # every observation inside its space
    assert tiny.fitness(info["genome"][None, :])[0] == pytest.approx(info["objective"])


def _whole_batch_time(p: Problem, layer: int, mb: int) -> np.ndarray:
    """Seconds of a layer over its model's whole batch at micro-batch ``mb``, per class,
    straight from the cost table (independent of env.features)."""
    m = int(p.index.model[layer])
    local = int(p.index.local[layer])
    return p.table.model(m, mb).latency_s[local] * (p.workload.models[m].batch / mb)


def test_dict_observation_features_by_hand(tiny):
    e = MappingEnv(problem=tiny, obs="dict")  # tiny has max_windows=3
    p, share = tiny, e.features.share
    obs, _ = e.reset()
    chip, layer = obs["chiplets"], obs["layer"]
    # the chiplets: class dataflow, place on the 2x2 mesh (every chiplet is on a DRAM edge)
    for i in range(4):
        df = p.mcm.chiplet_class(i).dataflow
        assert chip[i, CF[f"dataflow_{df}"]] == 1.0 and chip[i, :5].sum() == 1.0
        r, c = divmod(i, 2)
        assert (chip[i, CF["row"]], chip[i, CF["col"]]) == (r, c)
        assert chip[i, CF["dram_hops"]] == 0.0
        t = _whole_batch_time(p, 0, 1)[p.mcm.placement[i]]
        assert chip[i, CF["layer_time"]] == pytest.approx(t / share / (1 + t / share), rel=1e-6)
    assert layer[LF["kind_conv"]] == 1.0 and layer[LF["has_chain"]] == 0.0
    assert obs["models"][0, MF["current"]] == 1.0 and obs["models"][1, MF["current"]] == 0.0
    assert obs["chiplet_mask"].tolist() == [1, 1, 1, 1] and obs["model_mask"].tolist() == [1, 1]
    # order: c0 c1 g0 c2 c3 fc g1; c0 -> 2, c1 -> 3, g0 -> 0, then close cnn's window 0
    for a in (2, 3, 0):
        obs, *_ = e.step(a)
    assert obs["layer"][LF["window_open"]] == 1.0 and obs["layer"][LF["can_close"]] == 1.0
    obs, *_ = e.step(4)  # close: c2 goes to window 1
    chip = obs["chiplets"]
    assert chip[3, CF["chain_producer"]] == 1.0 and chip[:, CF["chain_producer"]].sum() == 1.0
    assert chip[0, CF["hops_from_chain"]] == pytest.approx(2 / 2)  # (0,0) from (1,1)
    t_c0 = _whole_batch_time(p, 0, 1)[p.mcm.placement[2]]
    assert chip[2, CF["load_total"]] == pytest.approx(squash(t_c0 / share), rel=1e-6)
    assert chip[2, CF["load_window"]] == 0.0  # c0 sits in window 0; cnn now fills window 1
    assert obs["layer"][LF["window"]] == pytest.approx(0.5)  # window 1 of 0..2
    assert obs["models"][0, MF["window"]] == pytest.approx(0.5)
    obs, *_ = e.step(3)  # c2 -> chiplet 3 (window 1); next c3, whose skip producer is c1
    chip = obs["chiplets"]
    assert chip[3, CF["skip_producers"]] == 1.0  # c1 (its only skip) sits on chiplet 3
    wb = float(p.compiled.w_bytes[2])
    l2 = p.mcm.chiplet_class(3).l2_bytes
    assert chip[3, CF["l2_weights"]] == pytest.approx(squash(wb / l2), rel=1e-6)
    t_c2 = _whole_batch_time(p, 2, 1)[p.mcm.placement[3]]
    assert chip[3, CF["load_window"]] == pytest.approx(squash(t_c2 / share), rel=1e-6)
    assert obs["models"][0, MF["progress"]] == pytest.approx(3 / 5)


def test_padding_and_invalid_padded_actions(tiny):
    plain = MappingEnv(problem=tiny, obs="dict")
    padded = MappingEnv(problem=tiny, obs="dict", pad_chiplets=9, pad_models=5)
    a, _ = plain.reset()
    b, _ = padded.reset()
    assert b["chiplets"].shape == (9, len(CHIPLET_FEATURES)) and b["models"].shape[0] == 5
    assert np.array_equal(b["chiplets"][:4], a["chiplets"]) and not b["chiplets"][4:].any()
    assert b["chiplet_mask"].sum() == 4 and b["model_mask"].sum() == 2
    assert padded.action_space.n == 10 and padded.action_masks()[4:9].sum() == 0
    _, r, *_, info = padded.step(6)  # a padding slot: ignored, penalized, counted
    assert r == -0.01 and info["invalid_actions"] == 1 and padded._k == 0


def test_micro_batch_actions(tiny):
    e = MappingEnv(problem=tiny, micro_batch="choose", obs="dict")
    # mlp has batch 4 (options 1, 2, 4), the most: 3 micro-batch actions after close (index 4)
    assert e.action_space.n == 4 + 1 + 3
    e.reset()
    mask = e.action_masks()
    assert mask[:4].all() and not mask[4]  # cnn's window is empty: no close
    assert mask[5:].tolist() == [False, True, False]  # cnn (batch 2): 1 is current, 2 allowed
    obs, *_ = e.step(6)  # cnn's window 0 runs micro-batch 2
    assert not e.action_masks()[5:].any()  # chosen once per window
    assert obs["models"][0, MF["micro_batch"]] == 1.0  # log2(2) / log2(2)
    e.step(2)  # c0 on chiplet 2 at micro-batch 2
    t = _whole_batch_time(tiny, 0, 2)[tiny.mcm.placement[2]]
    assert e._load[2] == pytest.approx(t)
    assert t != pytest.approx(_whole_batch_time(tiny, 0, 1)[tiny.mcm.placement[2]])
    e.step(4)  # close cnn's window 0 ... c1 is next, window 1 empty: a choice again
    # window 1 starts at option 0 (micro-batch 1) again: option 1 (micro-batch 2) may be chosen
    assert e.action_masks()[5:].tolist() == [False, True, False]
    genome = e.genome()
    mb = genome[2 * tiny.n_layers :].reshape(tiny.n_models, e.W)
    assert mb[0].tolist() == [1, 0, 0] and mb[1].tolist() == [0, 0, 0]  # 3 windows


def test_vector_env_batches_the_evaluations(tiny):
    calls = []

    def counting(genomes):
        calls.append(len(genomes))
        return tiny.evaluate_batch(genomes)

    venv = MappingVectorEnv(MappingEnv(problem=tiny, obs="dict"), 3, evaluator=counting)
    venv.reset()
    rng = np.random.default_rng(0)
    actions = [[], [], []]
    finals = {}
    for _ in range(7):  # 7 layers, chiplet actions only: all three end on the 7th step
        a = rng.integers(0, 4, size=3)
        for i in range(3):
            actions[i].append(int(a[i]))
        obs, rew, done, infos = venv.step(a)
    assert done.all() and calls == [3]  # one evaluation call for the three schedules
    for i in range(3):
        finals[i] = rew[i]
        single = MappingEnv(problem=tiny, obs="dict")
        single.reset()
        for a in actions[i]:
            *_, r, term, _, info = single.step(a)
        assert term and r == pytest.approx(finals[i]) and infos[i]["evaluated"]
        assert np.array_equal(info["genome"], infos[i]["genome"])
        assert "terminal_observation" in infos[i]
    assert obs["layer"][0, LF["progress"]] == 0.0  # reset automatically


def test_bad_dict_options(tiny):
    for kwargs, field in (
        ({"obs": "graph"}, "obs"),
        ({"obs": "dict", "pad_chiplets": 3}, "pad_chiplets"),
        ({"obs": "dict", "pad_models": 1.5}, "pad_models"),
        ({"pad_chiplets": 6}, "pad_chiplets"),  # the flat Box is not padded
        ({"micro_batch": "min", "pad_micro_batches": 4}, "pad_micro_batches"),
        ({"micro_batch": "choose", "pad_micro_batches": 2}, "pad_micro_batches"),
    ):
        with pytest.raises(ValueError, match=field):
            MappingEnv(problem=tiny, **kwargs)
    with pytest.raises(ValueError, match="n_envs"):
        MappingVectorEnv(MappingEnv(problem=tiny), 0)
