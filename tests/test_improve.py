"""``chiplet_sched/Improve-v0`` (env.improve), ``GenomeOps.apply_moves`` and the
``reinforce-moves`` agent (search.improve)."""

import json
from pathlib import Path

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import search
from costmodel import Problem, baseline_names, baseline_schedule, mcm, scenario
from env.improve import MOVE_NAMES, N_ACTIONS, OBS_DIM, STRENGTHS, ImproveChains, ImproveEnv
from search import Budget, run
from search.operators import MOVES, GenomeOps


@pytest.fixture(scope="module")
def one_window(cnn_mlp_workload) -> Problem:
    return Problem(cnn_mlp_workload, mcm("het-sides", 2, 2), max_windows=1)


def test_env_passes_the_checker_and_is_registered(tiny_problem):
    check_env(ImproveEnv(moves=GenomeOps, problem=tiny_problem))
    e = gymnasium.make(search.IMPROVE_ENV_ID, scenario="sc1", rows=2, cols=2, horizon=5)
    obs, _ = e.reset(seed=0)
    assert obs.shape == (OBS_DIM,) and e.action_space.n == N_ACTIONS
    for _ in range(5):
        *_, truncated, info = e.step(0)
    assert truncated and info["move"] == "cut" and info["n_moves"] == STRENGTHS[0]


def test_observation_size_does_not_depend_on_the_problem():
    shapes = {
        ImproveEnv(moves=GenomeOps, scenario=s, rows=r, cols=r).observation_space.shape
        for s, r in (("sc1", 2), ("sc4", 3), ("sc5", 6))
    }
    assert shapes == {(OBS_DIM,)}


def test_rewards_sum_to_the_log_improvement_and_objectives_are_exact(tiny_problem):
    """Without kicks (patience beyond the horizon) the return is log(f_start / f_end), the
    objective never rises, and the reported objective is the current schedule's true one."""
    e = ImproveEnv(moves=GenomeOps, problem=tiny_problem, horizon=60, patience=1000)
    _, info = e.reset(seed=3)
    f0, total, prev = info["objective"], 0.0, info["objective"]
    rng = np.random.default_rng(0)
    for _ in range(60):
        a = int(rng.choice(np.flatnonzero(e.action_masks())))
        _, r, _, truncated, info = e.step(a)
        assert info["objective"] <= prev and r >= 0
        assert (r > 0) == info["improved"]
        prev = info["objective"]
        total += r
    assert truncated
    assert total == pytest.approx(np.log(f0 / info["objective"]), rel=1e-12)
    assert info["best"] == info["objective"]
    cur = e.chains.cur
    assert tiny_problem.fitness(cur)[0] == pytest.approx(info["objective"], rel=1e-12)
    assert np.array_equal(tiny_problem.repair(cur), cur)


def test_kick_after_patience_restarts_from_the_best(tiny_problem):
    """A kick applies random moves to the chain's best schedule (not its current one), and the
    best stays the lowest objective seen, kicks included."""
    ops = GenomeOps(tiny_problem)
    starts = []
    real = ops.apply_moves

    def spy(genomes, kinds, rng, n_moves=1):
        starts.append(np.array(genomes))
        return real(genomes, kinds, rng, n_moves)

    ops.apply_moves = spy
    e = ImproveEnv(moves=ops, problem=tiny_problem, horizon=40, patience=3, kick=2)
    e.reset(seed=0)
    kicks, seen = 0, []
    for _ in range(40):
        best_before = e.chains.best.copy()
        *_, info = e.step(N_ACTIONS - 1)  # micro_batch x4: rarely improves
        seen.append(info["objective"])
        if info["kicked"]:
            kicks += 1
            assert np.array_equal(starts[-1], best_before)  # the kick's input
        assert info["best"] == pytest.approx(min([e.chains.f_best[0], *seen]))
    assert kicks > 0


@pytest.mark.parametrize("option", ["chains", "horizon"])
def test_agent_needs_two_chains_and_two_steps(option):
    with pytest.raises(ValueError, match=f"option '{option}' must be at least 2"):
        search.make_agent("reinforce-moves", **{option: 1})


def test_reset_checks_the_genome_and_run_hash_follows_the_weights(tiny_problem, tmp_path):
    e = ImproveEnv(moves=GenomeOps, problem=tiny_problem)
    with pytest.raises(ValueError, match="genome length"):
        e.reset(seed=0, options={"genome": [0, 1, 2]})
    from search import run_hash

    ck = tmp_path / "w.npz"
    run(tiny_problem, "reinforce-moves", Budget(evals=120), seed=0, checkpoint=str(ck))
    agent = search.make_agent("reinforce-moves", resume=str(ck))
    h1 = run_hash(tiny_problem, agent, Budget(evals=50), 0)
    run(tiny_problem, "reinforce-moves", Budget(evals=120), seed=1, checkpoint=str(ck))
    assert run_hash(tiny_problem, agent, Budget(evals=50), 0) != h1  # other weights, same path
    plain = search.make_agent("ga")
    assert "inputs" not in str(plain.hash_inputs())


def test_baseline_start_is_the_best_baseline(tiny_problem):
    e = ImproveEnv(moves=GenomeOps, problem=tiny_problem, start="baseline")
    _, info = e.reset(seed=0)
    p = tiny_problem
    dfs = tuple(sorted({c.dataflow for c in p.mcm.classes}))
    best = min(p.evaluate(baseline_schedule(p, n)).edp for n in baseline_names(dfs))
    assert info["objective"] == pytest.approx(best, rel=1e-12)


def test_masked_kinds_change_nothing(one_window):
    e = ImproveEnv(moves=GenomeOps, problem=one_window)
    m = e.action_masks()
    for kind in ("window", "group"):
        k = MOVE_NAMES.index(kind)
        assert not m[k * len(STRENGTHS) : (k + 1) * len(STRENGTHS)].any()
    e.reset(seed=1)
    before = e.chains.cur.copy()
    *_, info = e.step(MOVE_NAMES.index("window") * len(STRENGTHS))
    assert np.array_equal(e.chains.cur, before) and info["kept"]


@pytest.mark.parametrize("kind", MOVES)
def test_apply_moves_keeps_genomes_valid(tiny_problem, kind):
    ops = GenomeOps(tiny_problem)
    rng = np.random.default_rng(1)
    g = ops.starts(64, rng)
    k = MOVES.index(kind)
    out = ops.apply_moves(g, np.full(64, k), rng, rng.integers(1, 5, size=64))
    assert np.array_equal(tiny_problem.repair(out), out)
    assert (out != g).any(axis=1).mean() > 0.3  # the move does change schedules
    if kind in ("window", "group"):  # window moves leave the chiplets, chiplet moves the windows
        assert np.array_equal(out[:, : ops.L], g[:, : ops.L])
    elif kind != "micro_batch":
        assert np.array_equal(out[:, ops.L : 2 * ops.L], g[:, ops.L : 2 * ops.L])


def test_apply_moves_bad_kind(tiny_problem):
    ops = GenomeOps(tiny_problem)
    with pytest.raises(ValueError, match="move kinds must be in 0..8"):
        ops.apply_moves(ops.starts(2, np.random.default_rng(0)), np.array([0, 9]), None)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"start": "best"}, "option 'start'"),
        ({"horizon": 0}, "option 'horizon'"),
        ({"patience": 1.5}, "option 'patience'"),
        ({"kick": True}, "option 'kick'"),
        ({"moves": None}, "needs moves="),
        ({"render_mode": "human"}, "render_mode"),
    ],
)
def test_env_bad_options(tiny_problem, kwargs, match):
    args = {"moves": GenomeOps, "problem": tiny_problem, **kwargs}
    with pytest.raises(ValueError, match=match):
        ImproveEnv(**args)


def test_env_bad_action_and_negative_objective(tiny_problem, cnn_mlp_workload):
    e = ImproveEnv(moves=GenomeOps, problem=tiny_problem)
    e.reset(seed=0)
    for a in (-1, N_ACTIONS, 1.5):
        with pytest.raises(ValueError, match="action must be"):
            e.step(a)
    neg = Problem(cnn_mlp_workload, mcm("het-sides", 2, 2), objective=lambda r: -r.edp)
    with pytest.raises(ValueError, match="positive objective"):
        ImproveEnv(moves=GenomeOps, problem=neg).reset(seed=0)


def test_chains_step_in_lockstep_with_one_call_per_step(tiny_problem):
    calls = []

    def fitness(g):
        calls.append(len(g))
        return tiny_problem.fitness(g)

    ops = GenomeOps(tiny_problem)
    ch = ImproveChains(ops, fitness, 1.0, horizon=10, patience=1000)
    g = ops.starts(5, np.random.default_rng(0))
    ch.reset(g, tiny_problem.fitness(g))
    out = ch.step(np.arange(5), np.random.default_rng(1))
    assert calls == [5] and out["reward"].shape == (5,)
    assert ch.observe().shape == (5, OBS_DIM)


# --- the agent ---------------------------------------------------------------------------------
def test_agent_counts_is_deterministic_and_logs(tiny_problem, tmp_path):
    a = run(tiny_problem, "reinforce-moves", Budget(evals=300), seed=4, log_dir=tmp_path / "a")
    b = run(tiny_problem, "reinforce-moves", Budget(evals=300), seed=4)
    assert a.n_evals == 300 and a.best_fitness == b.best_fitness
    assert np.array_equal(a.best_genome, b.best_genome)
    assert a.best_fitness == pytest.approx(tiny_problem.fitness(a.best_genome[None])[0])
    rows = [json.loads(x) for x in (tmp_path / "a" / "learning.jsonl").read_text().splitlines()]
    assert rows and {"entropy", "best", "evals"} <= set(rows[0])


def test_agent_beats_the_best_baseline_on_sc4():
    """Issue 13's bar on its instance (sc4, 3x3 het-sides, EDP, 2,000 evaluations): the median
    over 5 seeds is below the best baseline schedule in both tracks, and below random sampling's
    best on every seed."""
    p = Problem(scenario("sc4"), mcm("het-sides", 3, 3))
    dfs = tuple(sorted({c.dataflow for c in p.mcm.classes}))
    best_baseline = min(p.evaluate(baseline_schedule(p, n)).edp for n in baseline_names(dfs))
    rnd = run(p, "random", Budget(evals=2000), seed=0).best_fitness
    for seeded in (True, False):
        best = [
            run(
                p, "reinforce-moves", Budget(evals=2000), seed=s, seed_baselines=seeded
            ).best_fitness
            for s in range(5)
        ]
        assert np.median(best) < best_baseline and max(best) < rnd


def test_checkpoint_resumes_on_another_problem_and_refuses_another_layout(tiny_problem, tmp_path):
    ck = tmp_path / "moves.npz"
    run(tiny_problem, "reinforce-moves", Budget(evals=200), seed=0, checkpoint=str(ck))
    other = Problem(scenario("sc1"), mcm("het-cross", 3, 3))
    r = run(other, "reinforce-moves", Budget(evals=100), seed=0, resume=str(ck))
    assert r.n_evals == 100
    with pytest.raises(ValueError, match="its hidden is 0, this run's is 8"):
        run(other, "reinforce-moves", Budget(evals=50), seed=0, resume=str(ck), hidden=8)


@pytest.mark.parametrize(
    "options",
    [{"chains": 0}, {"horizon": 1.5}, {"gamma": 2.0}, {"lr": 0}, {"entropy": -1}, {"resume": 3}],
)
def test_agent_bad_option(options):
    with pytest.raises(ValueError, match="option"):
        search.make_agent("reinforce-moves", **options)


# --- the shipped policy and its training -----------------------------------------------------------
def test_train_policy_writes_a_checkpoint_the_policy_agent_loads(tmp_path):
    from experiments import train_policy

    cfg = tmp_path / "t.yaml"
    cfg.write_text(
        "problems: 2\nevals_per_problem: 60\nmesh_sides: [2, 3]\nmodels: [resnet50, unet, gpt2, bert-base]\n"
    )
    out = tmp_path / "w.npz"
    assert train_policy.main([str(cfg), "--out", str(out), "--log", str(tmp_path / "l.jsonl")]) == 0
    recs = [json.loads(x) for x in (tmp_path / "l.jsonl").read_text().splitlines()]
    assert [r["problem"] for r in recs] == [0, 1] and all(r["best"] > 0 for r in recs)
    again = tmp_path / "w2.npz"
    assert train_policy.main([str(cfg), "--out", str(again)]) == 0
    with np.load(out) as x, np.load(again) as y:  # same config, same weights
        assert x.files == y.files and all(np.array_equal(x[k], y[k]) for k in x.files)
    p = Problem(scenario("sc1"), mcm("het-sides", 2, 2))
    a = run(p, "policy", Budget(evals=120), seed=1, resume=str(out), learn=False)
    b = run(p, "policy", Budget(evals=120), seed=1, resume=str(out), learn=False)
    assert a.n_evals == 120 and a.extra["updates"] == 0 and a.best_fitness == b.best_fitness


def test_interrupted_training_resumes_to_the_same_weights(tmp_path, monkeypatch, capsys):
    from experiments import train_policy

    cfg = tmp_path / "t.yaml"
    cfg.write_text(
        "problems: 3\nevals_per_problem: 60\nmesh_sides: [2, 3]\n"
        "models: [resnet50, unet, gpt2, bert-base]\n"
    )
    full, full_log = tmp_path / "full.npz", tmp_path / "full.jsonl"
    png = tmp_path / "train.png"
    args = [str(cfg), "--out", str(full), "--log", str(full_log), "--plot", str(png)]
    assert train_policy.main(args) == 0
    assert png.stat().st_size > 10_000
    recs = [json.loads(x) for x in full_log.read_text().splitlines()]
    assert all(r["entropy"] > 0 for r in recs)  # a learning policy's entropy is logged
    # killed during problem 2: the log and checkpoint hold problems 0 and 1
    out, log = tmp_path / "w.npz", tmp_path / "w.jsonl"
    real_run = train_policy.run

    def dies_on_third(*a, seed, **k):
        if seed == 2:
            raise KeyboardInterrupt
        return real_run(*a, seed=seed, **k)

    monkeypatch.setattr(train_policy, "run", dies_on_third)
    with pytest.raises(KeyboardInterrupt):
        train_policy.main([str(cfg), "--out", str(out), "--log", str(log)])
    monkeypatch.setattr(train_policy, "run", real_run)
    assert len(log.read_text().splitlines()) == 2
    # killed between the log and the checkpoint of problem 2: the log is one problem ahead
    log.write_text(log.read_text() + full_log.read_text().splitlines()[2] + "\n")
    assert train_policy.main([str(cfg), "--out", str(out), "--log", str(log), "--resume"]) == 0
    assert "resuming after problem 2 of 3" in capsys.readouterr().out
    assert out.read_bytes() == full.read_bytes()  # the uninterrupted training's weights
    assert log.read_text() != "" and len(log.read_text().splitlines()) == 3
    # resuming what another config or another training wrote is refused, nothing written
    before = out.read_bytes()
    other = tmp_path / "o.yaml"
    other.write_text(cfg.read_text().replace("evals_per_problem: 60", "evals_per_problem: 70"))
    assert train_policy.main([str(other), "--out", str(out), "--log", str(log), "--resume"]) == 2
    assert "trained under another config" in capsys.readouterr().err
    (tmp_path / "x.npz").write_bytes(b"not this training")
    args = [str(cfg), "--out", str(tmp_path / "x.npz"), "--log", str(log), "--resume"]
    assert train_policy.main(args) == 2
    assert "matches no record" in capsys.readouterr().err
    assert train_policy.main([str(cfg), "--out", str(out), "--resume"]) == 2
    assert "--resume needs the --log" in capsys.readouterr().err
    args = [str(cfg), "--out", str(out), "--log", str(log), "--resume", "--seed", "1"]
    assert train_policy.main(args) == 2  # another seed is another training
    assert "trained under another config" in capsys.readouterr().err
    assert out.read_bytes() == before
    # a finished training resumed does nothing more; --seed 1 trains other weights
    assert train_policy.main([str(cfg), "--out", str(out), "--log", str(log), "--resume"]) == 0
    assert out.read_bytes() == before
    s1 = tmp_path / "s1.npz"
    assert train_policy.main([str(cfg), "--out", str(s1), "--seed", "1"]) == 0
    assert s1.read_bytes() != before


def test_select_policy_scores_candidates_on_validation_problems(tmp_path, capsys):
    from experiments import select_policy, train_policy
    from search.improve import SHIPPED_POLICY

    cfg_path = tmp_path / "t.yaml"
    cfg_path.write_text("mesh_sides: [2, 3]\nmodels: [resnet50, unet, gpt2, bert-base]\n")
    cfg = train_policy.load_config(cfg_path)
    probs = select_policy.validation_problems(cfg, 2)
    # the validation stream is not the training stream
    rng = np.random.default_rng(cfg.seed)
    assert [d for _, d in probs] != [train_policy.draw_problem(cfg, rng)[1] for _ in range(2)]
    a, b = tmp_path / "a.npz", tmp_path / "b.npz"
    a.write_bytes(Path(SHIPPED_POLICY).read_bytes())
    zero = tmp_path / "zero.npz"  # untrained weights are the uniform policy: score exactly 0
    run(probs[0][0], "reinforce-moves", Budget(evals=40), seed=0, learn=False, checkpoint=str(zero))
    b.write_bytes(zero.read_bytes())
    out, rep = tmp_path / "w.npz", tmp_path / "r.json"
    small = ["--problems", "2", "--evals", "60", "--seeds", "1"]
    args = [str(cfg_path), str(a), str(b), "--out", str(out), "--report", str(rep)]
    rc = select_policy.main([*args, *small])
    report = json.loads(rep.read_text())
    assert report["candidates"][str(b)]["score"] == 0.0  # same decisions as uniform
    assert report["candidates"][str(b)]["medians"] == report["uniform"]
    best = report["best"]
    top = max(c["score"] for c in report["candidates"].values())
    assert report["candidates"][best]["score"] == top
    if top > 0:
        assert rc == 0 and out.read_bytes() == Path(best).read_bytes()
    else:
        assert rc == 1 and not out.exists()
    # the uniform policy alone does not beat itself: nothing is shipped
    out.unlink(missing_ok=True)
    args = [str(cfg_path), str(b), "--out", str(out), "--report", str(rep)]
    assert select_policy.main([*args, *small]) == 1 and not out.exists()
    assert "no candidate beats the uniform policy" in capsys.readouterr().err
    missing = [str(cfg_path), str(tmp_path / "nope.npz"), "--out", str(tmp_path / "x.npz")]
    assert select_policy.main([*missing, "--report", str(tmp_path / "x.json")]) == 2
    assert "nope.npz: no such checkpoint" in capsys.readouterr().err
    assert not (tmp_path / "x.npz").exists() and not (tmp_path / "x.json").exists()


def test_policy_ga_hash_follows_the_revisions_of_the_agents_it_runs(tiny_problem, monkeypatch):
    from search import make_agent, run_hash
    from search.genetic import GA

    agent = make_agent("policy-ga")
    h0 = run_hash(tiny_problem, agent, Budget(evals=50), 0)
    monkeypatch.setattr(GA, "revision", 2)
    assert run_hash(tiny_problem, agent, Budget(evals=50), 0) != h0


def test_shipped_policy_loads_and_schedules():
    p = Problem(scenario("sc2"), mcm("het-cross", 3, 3))
    r = run(p, "policy", Budget(evals=100), seed=0)
    assert r.n_evals == 100 and np.isfinite(r.best_fitness)


def test_shipped_policy_is_not_the_uniform_one():
    """The shipped weights carry what training learned: frozen, on the held-out mix mix-b of
    experiments/configs/policy-transfer.yaml (never trained on), their median over its 5 seeds is
    below the uniform policy's (the committed study: 1.398 against 1.663)."""
    from costmodel import Workload
    from costmodel.zoo import build_model

    mix = [("bert-base", 12), ("unet", 2), ("d2go", 24), ("gpt2", 6)]
    w = Workload([build_model(n, batch=b) for n, b in mix])
    p = Problem(w, mcm("het-checkerboard", 5, 3))

    def median(**opts):
        runs = [
            run(p, "reinforce-moves", Budget(evals=500), seed=s, seed_baselines=False, **opts)
            for s in range(5)
        ]
        return np.median([r.best_fitness for r in runs])

    assert median(learn=False, resume="shipped") < median(learn=False)


@pytest.mark.parametrize(
    "text, match",
    [
        ("problems: 0\n", "problems"),
        ("models: [resnet50, alexnet]\n", "models: unknown"),
        ("patterns: [grid]\n", "patterns: unknown"),
        ("mesh_sides: [3, 2]\n", "mesh_sides"),
        ("objectives: [speed]\n", "objectives"),
        ("colour: red\n", "colour"),
        ("agent_options: {resume: x}\n", "set by the training itself"),
        ("agent_options: {foo: 1}\n", "does not take option 'foo'"),
        ("agent_options: {chains: 1}\n", "at least 2"),
        ("models: [resnet50, unet]\nmodels_per_mix: [2, 3]\n", "needs as many models"),
    ],
)
def test_train_policy_bad_config(tmp_path, capsys, text, match):
    from experiments import train_policy

    cfg = tmp_path / "bad.yaml"
    cfg.write_text(text)
    out = tmp_path / "w.npz"
    assert train_policy.main([str(cfg), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and str(cfg) in err and match in err
    assert not out.exists()


def test_committed_training_config_validates():
    from experiments import train_policy

    cfg = train_policy.load_config("experiments/configs/training/train-policy.yaml")
    assert cfg.problems > 0 and "sc1" not in cfg.models


def test_policy_ga_spends_its_share_then_seeds_the_ga(tiny_problem, monkeypatch):
    from search import genetic

    seen = {}
    real = genetic.initial_population

    def spy(problem, size, rng, seed_baselines, ops=None, warm=None):
        seen["warm"] = None if warm is None else np.array(warm)
        pop = real(problem, size, rng, seed_baselines, ops, warm)
        seen["pop"] = pop
        return pop

    monkeypatch.setattr(genetic, "initial_population", spy)
    a = run(tiny_problem, "policy-ga", Budget(evals=400), seed=3, seed_baselines=False)
    assert a.n_evals == 400 and 100 <= a.extra["policy_evals"] < 110
    assert seen["warm"] is not None and np.array_equal(
        seen["pop"][: len(seen["warm"])], seen["warm"]
    )
    monkeypatch.undo()
    b = run(tiny_problem, "policy-ga", Budget(evals=400), seed=3, seed_baselines=False)
    assert b.best_fitness == a.best_fitness
    with pytest.raises(ValueError, match="policy_share"):
        search.make_agent("policy-ga", policy_share=1.0)
    with pytest.raises(ValueError, match="budget in evaluations"):
        run(tiny_problem, "policy-ga", Budget(seconds=1.0), seed=0)
