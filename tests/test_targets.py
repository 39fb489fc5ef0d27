"""Per-model latency and latency targets (docs/evaluation.md, Per-model latency and Targets).

* every evaluator (reference, numpy, numba, simulator) gives each model the same latency, to
  1e-9 relative, on random schedules, and the largest of them is the schedule's latency;
* hand-worked per-model latencies (the arithmetic in comments, from the hand-worked cases of
  tests/test_hand_worked.py and one new two-window case);
* the target objectives order schedules feasibility first, checked against violations and met
  counts computed here from the per-model latencies;
* bad targets and objectives without targets are refused with a ValueError naming the field (the
  command line: one line, exit 2); sc6-sc10 carry XRBench's rates by default.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from costmodel import Layer, Model, Problem, Schedule, Workload, mcm, monolithic, scenario, simulate
from costmodel.backends import numba_available
from costmodel.config import load_workload
from costmodel.spec import problem_from_spec, problem_spec
from costmodel.targets import Target

from .instances import blocky, tiny_workload
from .test_hand_worked import NS, build, unconstrained

RTOL = 1e-9
BACKENDS = ["numpy", "numba"] if numba_available() else ["numpy"]


def _rel(a, b) -> float:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300)))


# ------------------------------------------------------------------------------------------------
# all four evaluators agree
# ------------------------------------------------------------------------------------------------

EXACT_CASES = [
    ("tiny-2x2", lambda: Problem(tiny_workload(), mcm("het-sides", 2, 2), max_windows=4), 400),
    (
        "tiny-2x3-small-l2",
        lambda: Problem(tiny_workload(), mcm("het-checkerboard", 2, 3, l2_bytes=160_000)),
        400,
    ),
    ("tiny-3x3", lambda: Problem(tiny_workload(), mcm("het-cross", 3, 3), max_windows=3), 300),
    ("tiny-monolithic", lambda: Problem(tiny_workload(), monolithic(mcm("het-sides", 2, 2))), 60),
    ("sc8-3x3-256", lambda: Problem(scenario("sc8"), mcm("het-sides", 3, 3, pes=256)), 60),
    ("sc10-2x2-256", lambda: Problem(scenario("sc10"), mcm("homo-ws", 2, 2, pes=256)), 40),
]


@pytest.mark.parametrize("case", EXACT_CASES, ids=[c[0] for c in EXACT_CASES])
def test_per_model_latency_agrees_across_evaluators(case):
    _, make, n = case
    p = make()
    g = p.repair(np.concatenate([p.sample(n, seed=21), blocky(p, n // 4, seed=22)]))
    names = [m.name for m in p.workload.models]
    batch = {}
    for b in BACKENDS:
        full = p.evaluate_batch(g, backend=b)
        fast = p.evaluate_batch(g, backend=b, detail=False, models=True)
        assert full.model_latency_s.shape == (len(g), p.n_models)
        # the fitness-only path with models=True computes the same figures
        assert _rel(fast.model_latency_s, full.model_latency_s) <= RTOL
        assert p.evaluate_batch(g[:3], backend=b, detail=False).model_latency_s.shape == (3, 0)
        batch[b] = full
    multi_window = 0
    for i, row in enumerate(g):
        s = p.decode(row)
        ref = p.evaluate(s)
        sim = simulate(p, s, ref)
        want = np.array([sim.model_latency_s[n] for n in names])
        assert _rel([ref.model_latency_s[n] for n in names], want) <= RTOL, i
        for b, r in batch.items():
            assert _rel(r.model_latency_s[i], want) <= RTOL, (b, i)
        # every model ends by the schedule's end; the last one to end ends it
        assert np.all(want <= ref.latency_s * (1 + RTOL))
        assert _rel(want.max(), ref.latency_s) <= RTOL
        multi_window += len({st.window for st in ref.stages}) > 1
    if p.max_windows > 1:
        assert multi_window >= len(g) // 4  # window starts are exercised


# ------------------------------------------------------------------------------------------------
# hand-worked per-model latencies
# ------------------------------------------------------------------------------------------------


def case_model_spans_two_windows():
    """Model a in windows 0 and 1 (tests/test_hand_worked.py case 3's hand-off), model b only in
    window 0 (case 8's gemm, on chiplet 1): a's latency is window 0's latency plus its own end in
    window 1; b's is its end in window 0."""
    a = Model(
        "a",
        [Layer.gemm("g0", M=20, N=32, K=48), Layer.gemm("g1", M=20, N=16, K=32)],
        batch=4,
    )
    b = Model("b", [Layer.gemm("g", M=60, N=32, K=96)], batch=2)
    p = Problem(Workload([a, b]), mcm("homo-ws", 1, 2, **unconstrained()), max_windows=2)
    s = Schedule(window=[[0, 1], [0]], chiplet=[[0, 1], [1]], micro_batch=[{0: 2, 1: 4}, {0: 1}])
    # window 0: a.g0 on c0 (case 3): load 224 ns, 2 micro-batches of 530 ns -> ends 1284 ns;
    #   b.g on c1 (case 8, chiplet 1 of a 1x2 mesh is on the right edge, 0 hops): load
    #   3072/64 + 200 = 248 ns, 2 micro-batches of 240 + (5760/64 + 200) + (1920/64 + 200)
    #   = 760 ns -> ends 248 + 1520 = 1768 ns. Makespan 1768 ns; DRAM 7936 + (2 x 5760 + 2 x
    #   1920 + 3072) = 26368 B -> 412 ns; no NoP traffic (both chiplets on an edge): window 0
    #   lasts 1768 ns.
    # window 1: a.g1 on c1 (case 3): load 208 + 620 = 828 ns (DRAM 4352 B -> 68 ns).
    # b: 1768 ns (it sets window 0's makespan). a: 1768 + 828 = 2596 ns, the schedule's latency.
    return p, s, {"a": 2596 * NS, "b": 1768 * NS}


def hand_cases():
    """(problem, schedule, {model: latency}) of each hand-worked case."""
    out = {}
    p, s, _ = build("two_models_share_a_chiplet")
    # case 8's recursion: a's last stage ends at j = 1 at max(1066, 1925) + 524 = 2449 ns; b's
    # at 2449 + 760 = 3209 ns (the makespan; no bound binds)
    out["two_models_share_a_chiplet"] = (p, s, {"a": 2449 * NS, "b": 3209 * NS})
    p, s, _ = build("dram_bound_binds")
    # case 13: a ends at 2480 ns, b at 1960 ns, but the DRAM bound stretches the window from
    # 2480 to 3584 ns: every task's end is scaled by 3584 / 2480
    out["dram_bound_binds"] = (p, s, {"a": 3584 * NS, "b": 1960 * 3584 / 2480 * NS})
    p, s, _ = build("handoff_across_windows")
    # case 3: one model over two windows: its latency is the schedule's, 1284 + 828 = 2112 ns
    out["handoff_across_windows"] = (p, s, {"a": 2112 * NS})
    out["model_spans_two_windows"] = case_model_spans_two_windows()
    return out


HAND = hand_cases()


@pytest.mark.parametrize("name", list(HAND))
def test_hand_worked_per_model_latency(name):
    p, s, want = HAND[name]
    names = [m.name for m in p.workload.models]
    assert names == list(want)
    exp = np.array([want[n] for n in names])
    ref = p.evaluate(s)
    assert _rel([ref.model_latency_s[n] for n in names], exp) <= RTOL, ref.model_latency_s
    sim = simulate(p, s)
    assert _rel([sim.model_latency_s[n] for n in names], exp) <= RTOL, sim.model_latency_s
    g = p.encode(s)
    for b in BACKENDS:
        r = p.evaluate_batch(np.stack([g, g]), backend=b, detail=False, models=True)
        assert _rel(r.model_latency_s, np.stack([exp, exp])) <= RTOL, (b, r.model_latency_s)


def test_hand_worked_latency_against_targets():
    """The two-window case with deadlines 2596 ns (a, met exactly) and 1700 ns (b, missed by
    68 ns): the report, the objectives and the penalized reward, by hand."""
    p0, s, _ = case_model_spans_two_windows()
    w = Workload(
        p0.workload.models,
        targets={"a": Target(2596 * NS), "b": Target(1700 * NS, priority=3)},
    )
    rows = {}
    for obj in ("energy@targets", "edp@targets", "targets-met"):
        p = Problem(w, p0.mcm, objective=obj, max_windows=2)
        r = p.evaluate(s)
        report = {row["model"]: row for row in r.model_targets}
        assert report["a"]["met"] and abs(report["a"]["slack_s"]) <= 1e-9 * 2596 * NS
        assert not report["b"]["met"] and report["b"]["priority"] == 3
        assert math.isclose(report["b"]["slack_s"], -68 * NS, rel_tol=1e-9)
        br = p.evaluate_batch(p.encode(s)[None, :], backend="numpy")
        rows[obj] = (p, br, float(p.objective_of(br)[0]))
    # violation: priority 3 x (1768 / 1700 - 1) = 0.12
    v = 3 * (1768 / 1700 - 1)
    assert math.isclose(rows["energy@targets"][2], 1 + v, rel_tol=1e-12)
    assert math.isclose(rows["edp@targets"][2], 1 + v, rel_tol=1e-12)
    # targets-met: b's priority 3 missed, plus the overshoot tie-breaker V / (1 + V) in [0, 1)
    p, br, f = rows["targets-met"]
    e = float(br.energy_j[0])
    assert math.isclose(f, 3 + v / (1 + v), rel_tol=1e-12)
    # the penalized reward form: x (1 + 10 V); targets-met: V = missed weight / total = 3 / 4
    p, br, _ = rows["energy@targets"]
    assert math.isclose(float(p.penalized_objective(br)[0]), e * (1 + 10 * v), rel_tol=1e-12)
    p, br, _ = rows["targets-met"]
    assert math.isclose(float(p.penalized_objective(br)[0]), e * (1 + 10 * 3 / 4), rel_tol=1e-12)


# ------------------------------------------------------------------------------------------------
# feasibility-first ordering
# ------------------------------------------------------------------------------------------------


def _targeted_problem(objective: str, seed: int = 5) -> tuple[Problem, np.ndarray]:
    """The tiny workload with deadlines at per-model latency quantiles of random schedules, so
    some schedules meet every target and most miss some; priorities 1, 2, 3, ..."""
    base = Problem(tiny_workload(), mcm("het-sides", 2, 2), max_windows=3)
    g = base.repair(base.sample(600, seed=seed))
    lat = base.evaluate_batch(g, backend="numpy", detail=False, models=True).model_latency_s
    q = np.quantile(lat, 0.6, axis=0)
    targets = [Target(float(q[m]), priority=m + 1) for m in range(base.n_models)]
    w = Workload(base.workload.models, targets=targets)
    return Problem(w, base.mcm, objective=objective, max_windows=3), g


@pytest.mark.parametrize("objective", ["energy@targets", "edp@targets"])
def test_feasible_before_infeasible(objective):
    p, g = _targeted_problem(objective)
    r = p.evaluate_batch(g, backend="numpy")
    f = p.objective_of(r)
    deadline = np.array([t.deadline_s for t in p.workload.targets])
    prio = np.array([t.priority for t in p.workload.targets], dtype=float)
    ratio = r.model_latency_s / deadline
    feasible = np.all(ratio <= 1 + 1e-9, axis=1)
    viol = (np.where(ratio > 1 + 1e-9, ratio - 1, 0.0) * prio).sum(axis=1)
    x = r.energy_j if objective == "energy@targets" else r.edp
    assert 10 <= feasible.sum() <= len(g) - 10, feasible.sum()  # both kinds present
    assert f[feasible].max() < 1.0 <= f[~feasible].min()
    assert f[feasible].max() < f[~feasible].min()
    # feasible ones in the order of x, infeasible ones in the order of the total violation
    fx, fv = f[feasible], f[~feasible]
    assert np.all(np.diff(fx[np.argsort(x[feasible], kind="stable")]) >= 0)
    assert np.all(np.diff(fv[np.argsort(viol[~feasible], kind="stable")]) >= 0)
    assert np.allclose(fv, 1 + viol[~feasible], rtol=1e-12, atol=0)


def test_targets_met_counts_first_then_overshoot_then_energy():
    p, g = _targeted_problem("targets-met")
    r = p.evaluate_batch(g, backend="numpy")
    f = p.objective_of(r)
    deadline = np.array([t.deadline_s for t in p.workload.targets])
    prio = np.array([t.priority for t in p.workload.targets], dtype=float)
    ratio = r.model_latency_s / deadline
    late = ratio > 1 + 1e-9
    missed = (late * prio).sum(axis=1)
    overshoot = (np.where(late, ratio - 1, 0.0) * prio).sum(axis=1)
    assert len(set(missed.tolist())) >= 3
    # one more met priority unit beats any tie-break; then the smaller overshoot; with every
    # target met (overshoot 0), the smaller energy
    order = np.lexsort((r.energy_j, overshoot, missed))
    assert np.all(np.diff(f[order]) >= 0)
    assert np.array_equal(np.floor(f), missed)


def test_fitness_path_matches_full_evaluation():
    p, g = _targeted_problem("energy@targets")
    for b in BACKENDS:
        want = p.objective_of(p.evaluate_batch(g, backend=b))
        assert _rel(p.fitness(g, backend=b), want) <= RTOL


def test_ga_finds_a_schedule_meeting_every_target():
    from search import Budget, run

    p, g = _targeted_problem("energy@targets")
    r = run(p, "ga", Budget(evals=1500), seed=0)
    assert r.best_fitness < 1.0  # feasible
    res = p.evaluate(r.best_schedule)
    assert all(row["met"] for row in res.model_targets)
    # and no feasible random schedule of the 600 uses less energy than the GA's
    rr = p.evaluate_batch(g, backend="numpy")
    feas = p.targets.violation(rr.model_latency_s) == 0
    assert res.energy_j <= rr.energy_j[feas].min() * (1 + 1e-9)


# ------------------------------------------------------------------------------------------------
# targets in workloads, defaults, bad input
# ------------------------------------------------------------------------------------------------


def test_arvr_scenarios_carry_xrbench_rates():
    # XRBench's FPS equal SCAR's batches (one second of frames): a 1 s deadline per batch
    for sc in ("sc6", "sc7", "sc8", "sc9", "sc10"):
        w = scenario(sc)
        assert all(t is not None and t.deadline_s == 1.0 and t.priority == 1 for t in w.targets)
    assert scenario("sc1").targets == (None, None)
    fps = {m.name: m.batch for m in scenario("sc10").models}
    assert fps == {"eyecod": 60, "hand-sp": 45}  # XRBench VR gaming: eye 60, hand 45 FPS


def test_yaml_targets_rate_or_deadline():
    w = load_workload(
        {
            "scenario": "sc8",
            "targets": {
                "d2go": {"target_fps": 60, "priority": 2},
                "emformer": {"deadline_s": 0.25},
            },
        }
    )
    assert w.targets == (Target(0.5, 2), Target(0.25, 1))  # d2go: batch 30 at 60 FPS = 0.5 s
    w = load_workload(
        {"models": [{"model": "resnet50", "batch": 4}], "targets": {"resnet50": {"target_fps": 8}}}
    )
    assert w.targets == (Target(0.5),)


@pytest.mark.parametrize(
    "targets, match",
    [
        ({"d2go": {"target_fps": 0}}, r"targets\['d2go'\]: target_fps must be a positive number"),
        ({"d2go": {"target_fps": -3}}, "target_fps must be a positive number"),
        ({"d2go": {"deadline_s": float("nan")}}, "deadline_s must be a positive number"),
        ({"d2go": {"deadline_s": float("inf")}}, "deadline_s must be a positive number"),
        ({"d2go": {"deadline_s": "1s"}}, "deadline_s must be a positive number"),
        ({"d2go": {"deadline_s": True}}, "deadline_s must be a positive number"),
        ({"d2go": {"deadline_s": 1, "priority": 0}}, "priority must be a positive integer"),
        ({"d2go": {"deadline_s": 1, "priority": 1.5}}, "priority must be a positive integer"),
        ({"yolo": {"deadline_s": 1, "priority": 2}}, "no model named 'yolo'; models: d2go"),
        ({"d2go": {"priority": 2}}, "exactly one of target_fps or deadline_s"),
        ({"d2go": {"deadline_s": 1, "target_fps": 3}}, "exactly one of target_fps or deadline_s"),
        ({"d2go": {"fps": 3}}, "unknown key 'fps'"),
        ({"d2go": 30}, "must be a mapping"),
        ([1, 2], "targets must be a mapping"),
    ],
)
def test_bad_targets_are_refused(targets, match):
    with pytest.raises(ValueError, match=match):
        load_workload({"scenario": "sc8", "targets": targets})


def test_workload_targets_by_name_or_position():
    m = tiny_workload().models
    with pytest.raises(ValueError, match="no model named 'nope'"):
        Workload(m, targets={"nope": Target(1.0)})
    with pytest.raises(ValueError, match="entries, the workload has"):
        Workload(m, targets=[Target(1.0)])
    with pytest.raises(ValueError, match="deadline_s must be a positive number"):
        Target(0.0)


@pytest.mark.parametrize("objective", ["energy@targets", "edp@targets", "targets-met"])
def test_target_objective_needs_targets(objective):
    with pytest.raises(ValueError, match=f"objective '{objective}' needs latency targets"):
        Problem(scenario("sc1"), mcm("het-sides", 2, 2), objective=objective)


def test_problem_spec_round_trips_targets():
    w = load_workload({"scenario": "sc8", "targets": {"d2go": {"target_fps": 60, "priority": 2}}})
    p = Problem(w, mcm("het-sides", 3, 3, pes=256), objective="energy@targets")
    spec = problem_spec(p)
    q = problem_from_spec(spec)
    assert q.workload.targets == w.targets and q.objective == "energy@targets"
    # targets enter the fingerprint of a target objective only
    other = Problem(scenario("sc8"), p.mcm, objective="energy@targets")
    assert problem_spec(other)["fingerprint"] != spec["fingerprint"]
    edp = [Problem(x, p.mcm, objective="edp") for x in (w, scenario("sc8"))]
    assert problem_spec(edp[0])["fingerprint"] == problem_spec(edp[1])["fingerprint"]


def test_env_reward_uses_the_documented_penalty():
    from env.common import reference_objective
    from env.design import DesignEnv

    p, _ = _targeted_problem("energy@targets")
    env = DesignEnv(problem=p)
    env.reset(seed=0)
    g = p.sample(1, seed=3)[0]
    _, reward, _, _, info = env.step(g)
    r = p.evaluate_batch(p.repair(g[None, :]), backend="numpy")
    v = float(p.targets.violation(r.model_latency_s)[0])
    ref = reference_objective(p)
    assert math.isclose(reward, -float(r.energy_j[0]) * (1 + 10 * v) / ref, rel_tol=1e-9)
    assert len(info["model_latency"]) == p.n_models


# ------------------------------------------------------------------------------------------------
# the command line: bad input is one line and exit 2; evaluate reports latency against targets
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv, needle",
    [
        (
            ["search", "--model", "resnet50", "--objective", "energy@targets", "--evals", "10"],
            "objective 'energy@targets' needs latency targets",
        ),
        (
            ["search", "--scenario", "sc1", "--objective", "targets-met", "--evals", "10"],
            "objective 'targets-met' needs latency targets",
        ),
        (
            ["search", "--scenario", "sc8", "--objective", "energy@target", "--evals", "10"],
            "energy@targets, edp@targets, targets-met",
        ),
    ],
)
def test_cli_refuses_target_objectives_without_targets(capsys, argv, needle):
    from experiments.cli import main

    assert main(argv) == 2
    err = capsys.readouterr().err
    assert needle in err and err.count("\n") == 1, err


def test_cli_search_and_evaluate_report_targets(tmp_path, capsys):
    import json

    from experiments.cli import main

    out = tmp_path / "run"
    argv = ["search", "--scenario", "sc10", "--pes", "256", "--rows", "2", "--cols", "2"]
    argv += ["--objective", "targets-met", "--evals", "60", "--out", str(out), "--json"]
    assert main(argv) == 0
    capsys.readouterr()
    saved = json.loads((out / "result.json").read_text())
    assert [m["model"] for m in saved["model_latency"]] == ["eyecod", "hand-sp"]
    assert main(["evaluate", str(out / "result.json"), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["objective"] == "targets-met"
    rows = shown["model_latency"]
    for row in rows:
        assert row["deadline_s"] == 1.0  # XRBench's rate = SCAR's batch: 1 s
        assert row["met"] == (row["latency_s"] <= 1.0 * (1 + 1e-9))
        assert math.isclose(row["slack_s"], 1.0 - row["latency_s"], rel_tol=1e-12, abs_tol=1e-15)
    assert max(r["latency_s"] for r in rows) == pytest.approx(shown["latency_s"], rel=1e-9)
    missed = sum(not r["met"] for r in rows)
    assert math.floor(shown["fitness"]) == missed  # priorities 1: the missed count, then energy
    assert shown["fitness"] == pytest.approx(saved["best"], rel=1e-9)
