"""Every evaluator equals the simulator (docs/evaluation.md), to 1e-9 relative, on latency,
energy and throughput: the reference evaluator, the numpy and numba batch evaluators and the
event-driven simulator, on more than 10,000 random schedules (most with chiplets shared by
several stages in a window, where the old closed form and the simulator parted) and on the best
schedule of every agent for sc1-sc5 on 3x3 het-sides, 6x6 het-cross and 2x2 homo-ws
(tests/data/agent_best_schedules.json, made by validation/exactness/collect_agent_schedules.py)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from costmodel import Problem, mcm, monolithic, scenario, simulate
from costmodel.backends import numba_available

from .instances import blocky, tiny_workload

RTOL = 1e-9
BACKENDS = ["numpy", "numba"] if numba_available() else ["numpy"]
AGENT_FILE = Path(__file__).parent / "data" / "agent_best_schedules.json"

#: (name, problem factory, random genomes, blocky genomes): 10,240 schedules in all
RANDOM_CASES = [
    (
        "tiny-2x2",
        lambda: Problem(tiny_workload(), mcm("het-sides", 2, 2), max_windows=4),
        2500,
        500,
    ),
    (
        "tiny-2x3-small-l2",
        lambda: Problem(tiny_workload(), mcm("het-checkerboard", 2, 3, l2_bytes=160_000)),
        2500,
        500,
    ),
    (
        "tiny-3x3",
        lambda: Problem(tiny_workload(), mcm("het-cross", 3, 3), max_windows=3),
        2000,
        500,
    ),
    (
        "tiny-1x3",
        lambda: Problem(tiny_workload(), mcm("het-sides", 1, 3), max_windows=2),
        1000,
        300,
    ),
    (
        "tiny-monolithic",
        lambda: Problem(tiny_workload(), monolithic(mcm("het-sides", 2, 2))),
        200,
        0,
    ),
    ("sc1-3x3", lambda: Problem(scenario("sc1"), mcm("het-sides", 3, 3)), 60, 40),
    ("sc3-2x2", lambda: Problem(scenario("sc3"), mcm("homo-ws", 2, 2)), 60, 40),
    ("sc5-3x3", lambda: Problem(scenario("sc5"), mcm("het-cross", 3, 3)), 20, 20),
]


def _rel(a, b) -> np.ndarray:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return np.abs(a - b) / np.maximum(np.abs(b), 1e-300)


def shares_a_chiplet(s) -> bool:
    """Whether two stages of one window sit on one chiplet."""
    seen = set()
    for st in s.stages():
        key = (st.window, st.chiplet)
        if key in seen:
            return True
        seen.add(key)
    return False


def check_all_evaluators(p: Problem, genomes: np.ndarray) -> dict:
    """Assert every evaluator equals the simulator on every genome; return counts and the worst
    relative differences."""
    genomes = p.repair(genomes)
    batch = {b: p.evaluate_batch(genomes, backend=b) for b in BACKENDS}
    worst = {"latency": 0.0, "energy": 0.0, "throughput": 0.0}
    shared = 0
    for i, g in enumerate(genomes):
        s = p.decode(g)
        ref = p.evaluate(s)
        sim = simulate(p, s, ref)
        shared += shares_a_chiplet(s)
        sim_fig = {"latency": sim.latency_s, "energy": sim.energy_j, "throughput": sim.throughput}
        rows = {"reference": (ref.latency_s, ref.energy_j, ref.throughput)}
        for b, r in batch.items():
            rows[b] = (r.latency_s[i], r.energy_j[i], r.throughput[i])
        for who, figs in rows.items():
            for (name, want), got in zip(sim_fig.items(), figs):
                err = float(_rel(got, want))
                worst[name] = max(worst[name], err)
                assert err <= RTOL, f"schedule {i}: {who} {name} {got!r} != simulator {want!r}"
    return {"n": len(genomes), "shared": shared, "worst": worst}


@pytest.mark.parametrize("case", RANDOM_CASES, ids=[c[0] for c in RANDOM_CASES])
def test_random_schedules(case):
    _, make, n_random, n_blocky = case
    p = make()
    g = p.sample(n_random, seed=11)
    if n_blocky:
        g = np.concatenate([g, blocky(p, n_blocky, seed=12)])
    out = check_all_evaluators(p, g)
    assert out["n"] == n_random + n_blocky
    if p.mcm.n_chiplets < p.n_layers:
        # the point of the test: many schedules time-share a chiplet within a window
        assert out["shared"] >= out["n"] // 4, out


def test_random_cases_add_up_to_ten_thousand():
    assert sum(c[2] + c[3] for c in RANDOM_CASES) >= 10_000


def _agent_records():
    return json.loads(AGENT_FILE.read_text())["records"]


def test_agent_file_covers_every_agent_scenario_and_mesh():
    recs = _agent_records()
    combos = {(r["scenario"], r["pattern"], r["rows"], r["cols"]) for r in recs}
    assert {c[0] for c in combos} == {"sc1", "sc2", "sc3", "sc4", "sc5"}
    assert {(c[1], c[2], c[3]) for c in combos} == {
        ("het-sides", 3, 3),
        ("het-cross", 6, 6),
        ("homo-ws", 2, 2),
    }
    agents = {r["agent"] for r in recs}
    assert agents >= {"random", "scar", "scar-ea", "sa", "ga", "nsga2", "reinforce", "ppo"}
    assert len(recs) == len(combos) * len(agents)


@pytest.mark.parametrize("sc", ["sc1", "sc2", "sc3", "sc4", "sc5"])
def test_best_schedules_of_every_agent(sc):
    recs = [r for r in _agent_records() if r["scenario"] == sc]
    by_mesh: dict = {}
    for r in recs:
        by_mesh.setdefault((r["pattern"], r["rows"], r["cols"]), []).append(r["genome"])
    for (pat, rows, cols), genomes in by_mesh.items():
        p = Problem(scenario(sc), mcm(pat, rows, cols))
        g = np.array(genomes, dtype=np.int64)
        assert np.array_equal(p.repair(g), g)  # stored genomes are valid as they are
        check_all_evaluators(p, g)


def test_unknown_dispatch_policy_is_refused():
    with pytest.raises(ValueError, match="fixed-order"):
        Problem(tiny_workload(), mcm("het-sides", 2, 2), dispatch="greedy")


def test_simulator_refuses_schedules_it_cannot_run():
    from costmodel import Schedule

    p = Problem(tiny_workload(), mcm("het-sides", 2, 2), max_windows=3)
    s = p.decode(p.sample(1, seed=3)[0])
    backwards = Schedule([list(w) for w in s.window], s.chiplet, [dict(d) for d in s.micro_batch])
    backwards.window[0] = [2] + [0] * (len(backwards.window[0]) - 1)  # a window goes back
    backwards.micro_batch[0] = {0: backwards.micro_batch[0].get(0, 1), 2: 1}
    with pytest.raises(ValueError, match="windows must not go backwards"):
        simulate(p, backwards)
    missing = Schedule([list(w) for w in s.window], [list(c) for c in s.chiplet], s.micro_batch)
    missing.chiplet[1] = missing.chiplet[1][:-1]  # a layer without a chiplet
    with pytest.raises(ValueError, match="covers"):
        simulate(p, missing)
