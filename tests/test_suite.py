"""The versioned instance suite (search/suite.py) and its best-known values."""

from __future__ import annotations

import json

import numpy as np
import pytest

from costmodel.bounds import objective_bound
from search.suite import (
    INSTANCES,
    SUITE_VERSION,
    TRACKS,
    baseline_values,
    check_track,
    genome_value,
    instance,
    load_best_known,
    prove_tiny,
    select,
    update_best_known,
)

TINY = [i for i in INSTANCES if i.tier == "tiny"]


def test_suite_covers_what_the_issue_asks():
    assert len(INSTANCES) >= 20 and len({i.name for i in INSTANCES}) == len(INSTANCES)
    assert len(TINY) >= 6
    assert {i.objective for i in INSTANCES} == {"edp", "latency", "energy", "throughput"}
    assert {i.tier for i in INSTANCES} == {"tiny", "scar", "large"}
    meshes = {(p.mcm.rows, p.mcm.cols) for p in (i.problem() for i in INSTANCES)}
    assert (2, 2) in meshes and (16, 16) in meshes
    tiny = [(i, i.problem()) for i in TINY]
    assert any(p.n_models == 3 for _, p in tiny)
    assert any(p.mcm.rows == 1 for _, p in tiny)
    assert any((p.mcm.rows, p.mcm.cols) == (2, 3) for _, p in tiny)
    assert any(i.objective == "latency" for i, _ in tiny)
    assert max(instance(i.name).problem().n_models for i in INSTANCES if i.tier == "large") == 20


def test_bad_names_name_the_choices():
    with pytest.raises(ValueError, match=r"unknown instance 'nope'; choices: t-2x2-sides-edp"):
        instance("nope")
    with pytest.raises(ValueError, match=r"unknown track 'both'; choices: unseeded, seeded"):
        check_track("both")
    with pytest.raises(ValueError, match=r"unknown tier 'huge'; choices: tiny, scar, large"):
        select(["huge"])
    assert check_track(TRACKS[0]) == "unseeded"
    assert [i.tier for i in select(["tiny"])] == ["tiny"] * len(TINY)
    assert [i.name for i in select([], ["s-sc1-3x3-sides-edp"])] == ["s-sc1-3x3-sides-edp"]


def test_tiny_optima_proven_and_recorded():
    """Exhaustive search proves every tiny optimum again (about 1 s in all); the recorded
    value is that optimum, its genome re-evaluates to it, and it is above the lower bound."""
    known = load_best_known()
    for inst in TINY:
        g, f = prove_tiny(inst.name)
        p = inst.problem()
        rec = known[inst.name]
        assert rec.optimal and rec.source == "exhaustive"
        assert rec.value == pytest.approx(f, rel=1e-9)
        assert genome_value(p, rec.genome) == pytest.approx(f, rel=1e-9)
        assert objective_bound(p) <= f * (1 + 1e-9)
        assert f <= min(baseline_values(p).values()) * (1 + 1e-9)


def test_every_best_known_reverifies():
    known = load_best_known()
    assert {i.name for i in TINY} <= set(known)
    for name, rec in known.items():
        inst = instance(name)
        assert rec.objective == inst.objective
        assert genome_value(inst.problem(), rec.genome) == pytest.approx(rec.value, rel=1e-9)


def test_update_best_known_only_verified_improvements(tmp_path):
    path = tmp_path / "bk.json"
    name = "t-2x3-sides-edp"
    p = instance(name).problem()
    g = p.sample(50, seed=0)
    f = np.array([genome_value(p, x) for x in g])
    worst, best = g[np.argmax(f)], g[np.argmin(f)]
    assert update_best_known(name, worst, "test", path)
    assert not update_best_known(name, worst, "again", path)  # not better
    with pytest.raises(ValueError, match="claimed"):
        update_best_known(name, best, "liar", path, claimed=f.min() * 0.5)
    assert load_best_known(path)[name].value == pytest.approx(f.max())
    assert update_best_known(name, best, "test", path, claimed=f.min())
    assert load_best_known(path)[name].value == pytest.approx(f.min())
    bad = best.copy()
    bad[0] = 99  # no such chiplet
    with pytest.raises(ValueError, match="out of range"):
        update_best_known(name, bad, "bad", path)
    data = json.loads(path.read_text())
    assert data["version"] == SUITE_VERSION
    data["version"] = "old"
    path.write_text(json.dumps(data))
    assert load_best_known(path) == {}  # another suite version's values do not apply


def test_cli_list_shows_the_suite(capsys):
    from experiments.cli import main

    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert f"suite {SUITE_VERSION}: tracks unseeded, seeded" in out
    for inst in INSTANCES:
        assert f"  {inst.name} [{inst.tier}]" in out
