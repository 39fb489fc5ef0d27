import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from costmodel import (
    Problem,
    Schedule,
    mcm,
    monolithic,
    scenario,
    sequential,
    simba,
    simulate,
    standalone,
)


@pytest.fixture(scope="module")
def sc1():
    return Problem(scenario("sc1"), mcm("het-sides", 3, 3))


def _close(a, b, rel=1e-9):
    return abs(a - b) <= rel * max(abs(a), abs(b), 1e-300)


def check_agreement(p, genomes):
    br = p.evaluate_batch(genomes)
    for i, g in enumerate(genomes):
        r = p.evaluate(p.decode(g))
        for single, batch in (
            (r.latency_s, br.latency_s[i]),
            (r.energy_j, br.energy_j[i]),
            (r.edp, br.edp[i]),
            (r.throughput, br.throughput[i]),
            (r.dram_bytes, br.dram_bytes[i]),
            (r.energy_breakdown_j["nop"], br.energy_nop_j[i]),
            (r.energy_breakdown_j["dram"], br.energy_dram_j[i]),
        ):
            assert _close(single, batch), (i, single, batch)
        np.testing.assert_allclose(r.window_latency_s, br.window_latency_s[i], rtol=1e-9)
        np.testing.assert_allclose(r.chiplet_busy_s, br.chiplet_busy_s[i], rtol=1e-9, atol=1e-15)
        np.testing.assert_allclose(
            [r.link_bytes[lk] for lk in p.mcm.links], br.link_bytes[i], rtol=1e-9, atol=1e-6
        )


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**31),
    rows=st.integers(1, 3),
    cols=st.integers(2, 3),
    pattern=st.sampled_from(["het-sides", "het-checkerboard", "homo-ws"]),
)
def test_batch_agrees_with_single_on_random_schedules(cnn_mlp_workload, seed, rows, cols, pattern):
    p = Problem(cnn_mlp_workload, mcm(pattern, rows, cols), max_windows=3)
    check_agreement(p, p.sample(8, seed=seed))


def test_batch_agrees_on_scenarios(sc1):
    check_agreement(sc1, sc1.sample(6, seed=1))
    p4 = Problem(scenario("sc4"), mcm("het-cross", 3, 3))
    check_agreement(p4, p4.sample(3, seed=2))


def test_baselines_through_the_same_evaluator(sc1):
    for s in (standalone(sc1, "ws"), standalone(sc1, "os"), simba(sc1, "ws"), simba(sc1, "os")):
        g = sc1.encode(s)
        r = sc1.evaluate(s)
        assert _close(r.latency_s, sc1.evaluate_batch(g[None]).latency_s[0])
        assert r.latency_s > 0 and r.energy_j > 0 and np.isfinite(r.edp)
        assert sum(r.energy_breakdown_j.values()) == pytest.approx(r.energy_j)
    # simba uses only chiplets of its dataflow, on mesh-adjacent paths
    s = simba(sc1, "ws")
    used = {c for cs in s.chiplet for c in cs}
    assert all(sc1.mcm.chiplet_class(c).dataflow == "ws" for c in used)
    for segs in sc1.to_structured(s):
        for seg in segs:
            assert all(sc1.mcm.hops[a, b] == 1 for a, b in zip(seg["path"], seg["path"][1:]))
    mono = Problem(scenario("sc1"), monolithic(mcm("het-sides", 3, 3), "os"))
    assert mono.evaluate(sequential(mono)).latency_s > 0


def test_ws_pipeline_beats_os_standalone_on_sc1(sc1):
    # the cost model's headline fact: transformers run far better on ws than os
    assert sc1.evaluate(simba(sc1, "ws")).edp < sc1.evaluate(standalone(sc1, "os")).edp


def test_encode_decode_json_round_trip(tiny_problem):
    for g in tiny_problem.sample(20, seed=5):
        s = tiny_problem.decode(g)
        assert np.array_equal(tiny_problem.decode(tiny_problem.encode(s)).chiplet[0], s.chiplet[0])
        s2 = Schedule.from_json(s.to_json())
        assert s2 == s
        assert tiny_problem.evaluate(s2).latency_s == tiny_problem.evaluate(s).latency_s


def test_structured_view_round_trip(tiny_problem):
    for g in tiny_problem.sample(10, seed=9):
        s = tiny_problem.decode(g)
        spec = tiny_problem.to_structured(s)
        # random schedules need not have adjacent paths; rebuild only adjacent ones
        if all(
            tiny_problem.mcm.hops[a, b] == 1
            for segs in spec
            for seg in segs
            for a, b in zip(seg["path"], seg["path"][1:])
        ):
            assert tiny_problem.from_structured(spec) == s
    spec = [
        [
            {"layers": 3, "window": 0, "cuts": [1], "path": [0, 1], "micro_batch": 2},
            {"layers": 2, "window": 1, "cuts": [], "path": [3], "micro_batch": 4},
        ],
        [{"layers": 4, "window": 0, "cuts": [2], "path": [2, 3], "micro_batch": 1}],
    ]
    s = tiny_problem.from_structured(spec)
    assert s.chiplet[0] == [0, 1, 1, 3, 3] and s.window[0] == [0, 0, 0, 1, 1]
    assert tiny_problem.to_structured(s) == spec


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda sp: sp[0][0].update(path=[0, 3]), "not neighbours"),
        (lambda sp: sp[0][0].update(cuts=[3]), "cuts"),
        (lambda sp: sp[0][0].update(path=[0]), "path needs 2"),
        (lambda sp: sp[0][0].pop("window"), "missing key 'window'"),
        (lambda sp: sp[1][0].update(micro_batch=3), "must divide"),
    ],
)
def test_structured_view_errors(tiny_problem, mutate, message):
    spec = [
        [
            {"layers": 3, "window": 0, "cuts": [1], "path": [0, 1], "micro_batch": 2},
            {"layers": 2, "window": 1, "cuts": [], "path": [3], "micro_batch": 4},
        ],
        [{"layers": 4, "window": 0, "cuts": [2], "path": [2, 3], "micro_batch": 1}],
    ]
    mutate(spec)
    with pytest.raises(ValueError, match=message):
        tiny_problem.from_structured(spec)


def test_bad_genomes_and_schedules_are_named(tiny_problem, cnn_mlp_workload):
    g = tiny_problem.sample(1, seed=0)[0]
    with pytest.raises(ValueError, match="length"):
        tiny_problem.decode(g[:-1])
    bad = g.copy()
    bad[0] = 99
    with pytest.raises(ValueError, match=r"genome\[0\] \(chiplet\)"):
        tiny_problem.decode(bad)
    s = tiny_problem.decode(g)
    s.window[0] = [2, 1, 1, 1, 1]
    with pytest.raises(ValueError, match="backwards"):
        tiny_problem.validate(s)
    s = tiny_problem.decode(g)
    s.chiplet[1] = s.chiplet[1][:-1]
    with pytest.raises(ValueError, match="covers 3 layers"):
        tiny_problem.validate(s)
    s = tiny_problem.decode(g)
    s.micro_batch[1] = {w: 8 for w in s.micro_batch[1]}
    with pytest.raises(ValueError, match="micro-batch 8 must divide the batch 2"):
        tiny_problem.validate(s)
    with pytest.raises(ValueError, match="objective"):
        Problem(cnn_mlp_workload, mcm("het-sides", 2, 2), objective="speed")
    with pytest.raises(ValueError, match="shape"):
        tiny_problem.evaluate_batch(g)
    with pytest.raises(ValueError, match="JSON"):
        Schedule.from_json('{"window": [[0]]}')


def test_evaluate_batch_repairs_invalid_rows(tiny_problem):
    g = tiny_problem.sample(4, seed=1)
    broken = g.copy()
    L = tiny_problem.n_layers
    broken[:, L : 2 * L] = broken[:, L : 2 * L][:, ::-1]  # windows backwards
    broken[:, 0] = 77  # chiplet out of range
    fixed = tiny_problem.repair(broken)
    for row in fixed:
        tiny_problem.decode(row)  # valid
    np.testing.assert_array_equal(tiny_problem.fitness(broken), tiny_problem.fitness(fixed))


def test_never_nan_or_negative(tiny_problem):
    br = tiny_problem.evaluate_batch(tiny_problem.sample(200, seed=3))
    for v in (br.latency_s, br.energy_j, br.edp, br.throughput, br.energy_nop_j, br.energy_dram_j):
        assert np.all(np.isfinite(v)) and np.all(v >= 0)
    assert np.all(br.latency_s > 0) and np.all(br.throughput > 0)


def test_objectives_and_callable(tiny_problem, cnn_mlp_workload):
    g = tiny_problem.sample(5, seed=2)
    br = tiny_problem.evaluate_batch(g)
    for obj, want in (
        ("latency", br.latency_s),
        ("energy", br.energy_j),
        ("edp", br.edp),
        ("throughput", 1 / br.throughput),
    ):
        p = Problem(cnn_mlp_workload, mcm("het-sides", 2, 2), objective=obj, max_windows=3)
        np.testing.assert_allclose(p.fitness(g), want)
    p = Problem(
        cnn_mlp_workload,
        mcm("het-sides", 2, 2),
        max_windows=3,
        objective=lambda r: r.latency_s + r.energy_j,
    )
    np.testing.assert_allclose(p.fitness(g), br.latency_s + br.energy_j)


def test_sample_is_deterministic_and_valid(tiny_problem):
    a, b = tiny_problem.sample(10, seed=4), tiny_problem.sample(10, seed=4)
    np.testing.assert_array_equal(a, b)
    for row in a:
        tiny_problem.decode(row)


def test_simulation_equals_closed_form_without_sharing(sc1):
    for s in (standalone(sc1, "ws"), simba(sc1, "ws"), simba(sc1, "os")):
        assert simulate(sc1, s).makespan_s == pytest.approx(sc1.evaluate(s).latency_s, rel=1e-9)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**31))
def test_closed_form_is_a_lower_bound_of_the_simulation(cnn_mlp_workload, seed):
    p = Problem(cnn_mlp_workload, mcm("het-sides", 2, 2), max_windows=3)
    for g in p.sample(3, seed=seed):
        s = p.decode(g)
        tl = simulate(p, s)
        assert tl.makespan_s >= p.evaluate(s).latency_s * (1 - 1e-9)
        # chiplets run one task at a time
        by_chiplet = {}
        for e in tl.events:
            by_chiplet.setdefault(e.chiplet, []).append((e.start, e.end))
        for spans in by_chiplet.values():
            spans.sort()
            assert all(b0 >= a1 - 1e-15 for (_, a1), (b0, _) in zip(spans, spans[1:]))


def test_result_json_serializable(sc1):
    r = sc1.evaluate(simba(sc1, "ws"))
    json.dumps(
        {
            "latency": r.latency_s,
            "energy": r.energy_breakdown_j,
            "busy": r.chiplet_busy_s,
            "util": r.chiplet_utilization,
        }
    )
    assert all(0 <= u <= 1 + 1e-9 for u in r.chiplet_utilization)
