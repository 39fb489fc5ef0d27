"""One-pass constructive scheduling by imitation (search.construct, experiments.train_construct):
every genome has a Mapping-v0 action sequence, imitation can learn a schedule, the agent keeps
its budget and is deterministic, bad checkpoints and configs are refused."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from gymnasium.utils.env_checker import check_env
from hypothesis import given, settings
from hypothesis import strategies as st

from costmodel import Problem, Workload, mcm, scenario
from costmodel.zoo import build_model
from env.mapping import MappingEnv
from search import Budget, run
from search.construct import (
    ENV_OPTIONS,
    SHIPPED_CONSTRUCT,
    demonstration,
    imitation_loss,
    new_policy,
    policy_env,
    rollout,
    save_policy,
)

REPO = Path(__file__).resolve().parents[1]

PROBLEMS = {
    "sc1-2x2": lambda: Problem(scenario("sc1"), mcm("het-sides", 2, 2)),
    "seed-3x3-cross": lambda: Problem(scenario("seed"), mcm("het-cross", 3, 3)),
    "mix-1x3": lambda: Problem(
        Workload([build_model("resnet50", batch=4), build_model("gpt2-small", batch=6)]),
        mcm("het-sides", 1, 3),
    ),
}
_built: dict[str, Problem] = {}


def _problem(name: str) -> Problem:
    if name not in _built:
        _built[name] = PROBLEMS[name]()
    return _built[name]


# --- every genome has an action sequence -------------------------------------------------------
@settings(max_examples=25, deadline=None)
@given(name=st.sampled_from(sorted(PROBLEMS)), seed=st.integers(0, 2**31 - 1))
def test_actions_for_rebuilds_any_genome(name, seed):
    p = _problem(name)
    g = p.sample(1, seed=seed)[0]  # random windows: empty and late-starting windows included
    e = MappingEnv(p, **ENV_OPTIONS)
    e.reset()
    for a in e.actions_for(g):
        assert e.action_masks()[a]
        *_, terminated, truncated, info = e.step(a)
    assert terminated and not truncated and info["invalid_actions"] == 0
    assert np.array_equal(p.canonical(e.genome()[None]), p.canonical(g[None]))
    assert info["objective"] == pytest.approx(float(p.objective_of(p.evaluate_batch(g[None]))[0]))


def test_without_empty_windows_a_genome_with_a_gap_is_refused():
    p = _problem("sc1-2x2")
    g = p.canonical(p.sample(1, seed=0))[0]
    L = p.n_layers
    g[L : 2 * L] = 1  # every model starts in window 1: window 0 stays empty
    with pytest.raises(ValueError, match="empty_windows=True"):
        MappingEnv(p, micro_batch="choose").actions_for(g)
    with pytest.raises(ValueError, match="micro_batch='choose'"):
        g2 = g.copy()
        g2[L : 2 * L] = 0
        g2[2 * L] = 1  # model 0, window 0: a micro-batch other than the default
        MappingEnv(p).actions_for(g2)
    assert MappingEnv(p, **ENV_OPTIONS).actions_for(g)  # with empty windows it is fine


def test_env_with_empty_windows_passes_the_checker():
    check_env(MappingEnv(_problem("sc1-2x2"), **ENV_OPTIONS))
    e = MappingEnv(_problem("sc1-2x2"), empty_windows=True)
    e.reset()
    assert e.action_masks()[e.slots]  # an empty first window may be closed
    assert not MappingEnv(_problem("sc1-2x2")).action_masks()[e.slots]
    with pytest.raises(ValueError, match="empty_windows"):
        MappingEnv(_problem("sc1-2x2"), empty_windows="yes")


# --- imitation -----------------------------------------------------------------------------------
def test_imitation_learns_a_schedule_that_greedy_rollout_rebuilds():
    # behaviour cloning on one demonstration until the greedy policy takes every demonstrated
    # action; then the one-pass greedy rollout must build exactly that schedule
    torch.manual_seed(0)
    torch.set_num_threads(1)
    p = _problem("sc1-2x2")
    target = run(p, "sa", Budget(evals=300), seed=3).best_genome
    env = policy_env(p)
    demo = demonstration(env, target)
    net = new_policy(p, d=32, heads=2, seed=0)
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    for _ in range(400):
        loss, hits = imitation_loss(net, demo)
        if hits == len(demo.actions):
            break
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert hits == len(demo.actions)
    built = rollout(env, 1, np.random.default_rng(0), net)[0]
    assert np.array_equal(p.canonical(built[None]), p.canonical(target[None]))


def test_rollout_samples_valid_schedules_and_the_first_is_greedy():
    p = _problem("seed-3x3-cross")
    net = new_policy(p, d=16, heads=2, seed=1)
    env = policy_env(p)
    a = rollout(env, 4, np.random.default_rng(0), net)
    b = rollout(env, 4, np.random.default_rng(99), net)
    assert np.array_equal(a[0], b[0])  # greedy: the same whatever the sampling stream
    assert np.array_equal(p.repair(a), a)  # windows sorted, genes in range: valid as built
    assert np.isfinite(p.objective_of(p.evaluate_batch(a))).all()


# --- the agents ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def weights(tmp_path_factory) -> Path:
    p = _problem("sc1-2x2")
    path = tmp_path_factory.mktemp("w") / "c.pt"
    save_policy(path, new_policy(p, d=16, heads=2, seed=2), d=16, heads=2, blocks=1)
    return path


def test_agent_spends_at_most_its_samples_and_is_deterministic(weights, tmp_path):
    p = _problem("mix-1x3")
    r1 = run(p, "construct", Budget(evals=100), seed=5, weights=str(weights), samples=6)
    r2 = run(p, "construct", Budget(evals=100), seed=5, weights=str(weights), samples=6)
    assert r1.n_evals == 6 and r1.best_fitness == r2.best_fitness
    assert np.array_equal(r1.best_genome, r2.best_genome)
    assert run(p, "construct", Budget(evals=3), seed=5, weights=str(weights)).n_evals == 3
    u = run(p, "construct-uniform", Budget(evals=100), seed=5)
    assert u.n_evals == 16


def test_another_layout_or_a_missing_file_is_a_clear_error(weights, tmp_path):
    p = _problem("sc1-2x2")
    with pytest.raises(ValueError, match="option 'weights': no checkpoint file"):
        run(p, "construct", Budget(evals=4), weights=str(tmp_path / "none.pt"))
    moves = REPO / "search" / "moves_policy.npz"  # a checkpoint of another agent
    with pytest.raises(ValueError, match="does not fit this run: its agent"):
        run(p, "construct", Budget(evals=4), weights=str(moves))
    st_ = torch.load(weights, weights_only=True)
    lay = json.loads(st_["layout"])
    lay["chiplet_features"] = lay["chiplet_features"][:-1]  # an older observation
    st_["layout"] = json.dumps(lay)
    bad = tmp_path / "old.pt"
    torch.save(st_, bad)
    with pytest.raises(ValueError, match="its chiplet_features"):
        run(p, "construct", Budget(evals=4), weights=str(bad))
    for opt in ({"samples": 0}, {"threads": True}, {"weights": 3}):
        with pytest.raises(ValueError, match=f"option '{next(iter(opt))}'"):
            run(p, "construct", Budget(evals=4), **opt)
    with pytest.raises(ValueError, match="option 'seed_baselines'"):
        run(p, "construct-ga", Budget(evals=4), seed_baselines="maybe")


def test_a_batch_with_too_many_micro_batch_options_is_named():
    p = Problem(Workload([build_model("resnet50", batch=720)]), mcm("het-sides", 2, 2))
    with pytest.raises(ValueError, match="model 'resnet50': batch 720 has 30 micro-batch options"):
        policy_env(p)


@pytest.mark.parametrize(
    "option", ["weights=/nonexistent.pt", "weights=search/moves_policy.npz", "samples=0"]
)
def test_search_with_unusable_weights_writes_nothing(tmp_path, capsys, option):
    from experiments.cli import main

    out = tmp_path / "out"
    argv = ["search", "--scenario", "sc1", "--algo", "construct-ga", "--evals", "20"]
    assert main([*argv, "--option", option, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err and not out.exists()


@pytest.mark.skipif(not SHIPPED_CONSTRUCT.is_file(), reason="no shipped constructive policy")
def test_shipped_policy_beats_the_uniform_policy_on_an_unseen_mix():
    # a mix no training problem holds (mix-b of the transfer study), one pass of 16 schedules
    p = Problem(
        Workload(
            [
                build_model("bert-base", batch=12),
                build_model("unet", batch=2),
                build_model("d2go", batch=24),
                build_model("gpt2", batch=6),
            ]
        ),
        mcm("het-checkerboard", 5, 3),
    )
    for seed in range(3):
        c = run(p, "construct", Budget(evals=16), seed=seed).best_fitness
        u = run(p, "construct-uniform", Budget(evals=16), seed=seed).best_fitness
        assert c < u


# --- training ------------------------------------------------------------------------------------
def _train(tmp_path: Path, name: str, **extra) -> subprocess.CompletedProcess:
    cfg = tmp_path / "cfg.yaml"
    base = {
        "problems": 2,
        "validation": 1,
        "expert_evals": 40,
        "epochs": 2,
        "d": 16,
        "heads": 2,
        "mesh_sides": [2, 3],
        "models": ["resnet50", "gpt2-small", "d2go"],
        "models_per_mix": [2, 2],
    }
    cfg.write_text(yaml.safe_dump({**base, **extra}))
    out = [str(tmp_path / name), "--experts", str(tmp_path / "experts.jsonl")]
    cmd = [sys.executable, "-m", "experiments.train_construct", str(cfg), "--out", *out]
    cmd += ["--log", str(tmp_path / f"{name}.jsonl")]
    return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)


def test_training_is_deterministic_and_reuses_its_expert_runs(tmp_path):
    a = _train(tmp_path, "a.pt")
    assert a.returncode == 0, a.stderr
    assert a.stdout.count("expert ") == 3
    with (tmp_path / "experts.jsonl").open("a") as f:
        f.write('{"problem": "t0", "de')  # a record torn by a kill mid-write
    b = _train(tmp_path, "b.pt")  # the same config: the expert runs are reused, not redone
    assert b.returncode == 0 and "expert " not in b.stdout
    assert (tmp_path / "a.pt").read_bytes() == (tmp_path / "b.pt").read_bytes()
    recs = [json.loads(x) for x in (tmp_path / "a.pt.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in recs if "epoch" in r] == [1, 2]
    assert all(r["best16_over_expert"] > 0 for r in recs if "validation" in r)


def test_an_experts_file_that_is_not_one_is_bad_input(tmp_path):
    (tmp_path / "experts.jsonl").write_text("not json\n")
    r = _train(tmp_path, "w.pt")
    assert r.returncode == 2 and "experts.jsonl line 1" in r.stderr and r.stderr.count("\n") == 1
    assert not (tmp_path / "w.pt").exists()


def test_an_interrupted_training_resumes_to_the_same_weights(tmp_path):
    from experiments.generated import load_config
    from experiments.train_construct import TrainConstructConfig, partial_path, train

    cfg_file = tmp_path / "cfg.yaml"
    cfg_file.write_text(
        yaml.safe_dump(
            {
                "problems": 2,
                "validation": 1,
                "expert_evals": 30,
                "epochs": 3,
                "d": 16,
                "heads": 2,
                "mesh_sides": [2, 2],
                "models": ["resnet50", "d2go"],
                "models_per_mix": [2, 2],
                "batch": 64,
            }
        )
    )
    cfg = load_config(cfg_file, TrainConstructConfig)
    experts = tmp_path / "experts.jsonl"
    straight = tmp_path / "straight.pt"
    train(cfg, straight, experts, log=lambda m: None)
    assert not partial_path(straight).exists()  # removed once the weights are written

    def killed_after_epoch_2(message):
        if message.startswith("epoch 2:"):
            raise KeyboardInterrupt

    out = tmp_path / "resumed.pt"
    with pytest.raises(KeyboardInterrupt):
        train(cfg, out, experts, log=killed_after_epoch_2)
    assert partial_path(out).exists() and not out.exists()
    seen: list[str] = []
    recs = train(cfg, out, experts, log=seen.append, resume=True)
    assert seen[0] == "resumed after epoch 2" and [r["epoch"] for r in recs if "epoch" in r] == [
        1,
        2,
        3,
    ]
    assert out.read_bytes() == straight.read_bytes()
    other = load_config(cfg_file, TrainConstructConfig).model_copy(update={"lr": 0.01})
    torch.save({"config": "x"}, partial_path(out))
    with pytest.raises(ValueError, match="another config"):
        train(other, out, experts, log=lambda m: None, resume=True)


@pytest.mark.parametrize(
    "extra, message",
    [
        ({"expert": "nope"}, "expert"),
        ({"d": 30, "heads": 4}, "multiple of heads"),
        ({"epochs": 0}, "epochs"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_bad_training_config_is_one_line_and_writes_nothing(tmp_path, extra, message):
    r = _train(tmp_path, "w.pt", **extra)
    assert r.returncode == 2 and message in r.stderr and r.stderr.count("\n") == 1
    assert "Traceback" not in r.stderr and list(tmp_path.iterdir()) == [tmp_path / "cfg.yaml"]


# --- generated problems with random YAML-described models ---------------------------------------
@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**31 - 1))
def test_random_yaml_models_load_and_their_problems_evaluate(seed):
    from costmodel.config import load_model, model_to_dict
    from experiments.generated import ProblemDistribution, draw_yaml_problem, random_model

    spec = random_model(np.random.default_rng(seed), "m")
    model = load_model(yaml.safe_load(yaml.safe_dump(spec)))  # as a user's YAML file is read
    assert 5 <= len(model) <= 42 and load_model(model_to_dict(model)) == model
    cfg = ProblemDistribution(
        mesh_sides=[2, 3], models=["resnet50", "gpt2-small"], models_per_mix=[2, 2]
    )
    p, desc = draw_yaml_problem(cfg, np.random.default_rng(seed))
    q, desc2 = draw_yaml_problem(cfg, np.random.default_rng(seed))
    assert desc == desc2 and "yaml0[" in desc and p.n_layers == q.n_layers
    f = p.objective_of(p.evaluate_batch(p.sample(4, seed=0)))
    assert np.isfinite(f).all() and (f > 0).all()
