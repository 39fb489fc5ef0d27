"""The suite runner (experiments/suite.py) end to end on one tiny instance."""

from __future__ import annotations

import csv
import json

import pytest

from experiments import anytime as A
from experiments.benchmark import TALLY
from experiments.config import validate_config
from experiments.suite import run_suite
from search.suite import baseline_values, genome_value, instance, load_best_known

INST = "t-2x3-checker-latency"
CFG = {
    "name": "suite-test",
    "kind": "suite",
    "instances": [INST],
    "tracks": ["unseeded", "seeded"],
    "agents": ["random", "ga"],
    "seeds": 2,
    "budgets": [120],
    "best_known": "best_known.json",
}


def test_run_suite_end_to_end(tmp_path):
    TALLY.reset()
    md = run_suite(validate_config(dict(CFG)), tmp_path)
    assert TALLY.recomputed == 6 and TALLY.reused == 0  # random once, ga once per track
    runs = tmp_path / "runs" / INST / "e120"
    assert sorted(p.name for p in runs.iterdir()) == ["any", "seeded", "unseeded"]
    for track, flag in (("unseeded", False), ("seeded", True)):
        res = json.loads((runs / track / "ga" / "seed0" / "result.json").read_text())
        assert res["config"]["seed_baselines"] is flag
    rows = list(csv.DictReader((tmp_path / "results.csv").open()))
    assert len(rows) == 8  # random reported in both tracks
    p = instance(INST).problem()
    base = min(baseline_values(p).values())
    opt = load_best_known()[INST].value  # the package's proven optimum
    for r in rows:
        best = float(r["best"])
        assert float(r["gain_over_baseline"]) == pytest.approx(1 - best / base)
        assert r["reference_kind"] == "optimum"
        assert float(r["gap"]) == pytest.approx(best / opt - 1)
        assert float(r["gap"]) >= -1e-9
        assert int(r["evals"]) <= 120
    rand = {(r["track"], r["seed"]): r["best"] for r in rows if r["agent"] == "random"}
    assert rand[("unseeded", "0")] == rand[("seeded", "0")]
    # best-known file in the results folder: the optimum stays (nothing beats it), re-verified
    bk = load_best_known(tmp_path / "best_known.json")[INST]
    assert bk.optimal and genome_value(p, bk.genome) == pytest.approx(bk.value, rel=1e-9)
    # IOH export: one folder per agent, track and budget; one run per seed
    dat = tmp_path / "ioh" / "ga-unseeded-e120" / "data_f4_t-2x3-checker-latency"
    assert len(A.read_ioh_dat(dat / f"IOHprofiler_f4_DIM{p.genome_length}.dat")) == 2
    for png in ("ecdf_tiny.png", f"curves/{INST}.png"):
        assert (tmp_path / png).stat().st_size > 10_000
    assert "unseeded track, 120 evaluations" in md and "runs at optimum" in md
    # histories are improvement-only: each record after the first lowers the best, but the last
    # (the evaluations used), which is kept even when it does not
    files = list(runs.glob("*/*/seed*/history.jsonl"))
    assert len(files) == 6
    for h in files:
        hist = [json.loads(x) for x in h.read_text().splitlines()]
        bests = [r["best"] for r in hist[:-1]]
        assert all(b < a for a, b in zip(bests, bests[1:]))
        assert hist[-1]["evals"] == json.loads((h.parent / "result.json").read_text())["evals"]
    # a rerun reuses every run
    TALLY.reset()
    assert run_suite(validate_config(dict(CFG)), tmp_path) == md
    assert TALLY.reused == 6 and TALLY.recomputed == 0
    # an excluded agent does not run there and the summary says so
    md = run_suite(validate_config({**CFG, "exclude": {"random": ["tiny"]}}), tmp_path)
    rows = list(csv.DictReader((tmp_path / "results.csv").open()))
    assert {r["agent"] for r in rows} == {"ga"} and "Excluded: random on tiny" in md


def test_tier_budgets_restrict_a_tier(tmp_path):
    import matplotlib.image as mpimg

    scar = "s-sc1-3x3-sides-edp"
    cfg = {**CFG, "instances": [INST, scar], "agents": ["random"], "seeds": 1}
    cfg |= {"budgets": [60, 120], "tier_budgets": {"tiny": [60]}}
    md = run_suite(validate_config(cfg), tmp_path)
    assert sorted(p.name for p in (tmp_path / "runs" / INST).iterdir()) == ["e60"]
    assert sorted(p.name for p in (tmp_path / "runs" / scar).iterdir()) == ["e120", "e60"]
    assert "(tiny tier: [60] only)" in md
    rows = list(csv.DictReader((tmp_path / "results.csv").open()))
    assert {(r["instance"], r["budget"]) for r in rows} == {
        (INST, "60"),
        (scar, "60"),
        (scar, "120"),
    }
    at120 = md.split("## unseeded track, 120 evaluations")[1].split("## seeded track")[0]
    assert "tier scar" in at120 and "tier tiny" not in at120
    per = md.split("## Per instance, 120 evaluations")[1]
    assert scar in per and INST not in per
    # the ECDF picture of a tier has one column per budget it ran at
    w_tiny = mpimg.imread(tmp_path / "ecdf_tiny.png").shape[1]
    w_scar = mpimg.imread(tmp_path / "ecdf_scar.png").shape[1]
    assert w_scar > 1.7 * w_tiny


def test_finished_only_reports_finished_runs_and_starts_none(tmp_path, capsys):
    from experiments.cli import main

    cfg = {**CFG, "agents": ["random", "ga"], "tracks": ["unseeded"], "budgets": [60, 120]}
    run_suite(validate_config(dict(cfg)), tmp_path)
    gone = tmp_path / "runs" / INST / "e120" / "unseeded" / "ga" / "seed1" / "result.json"
    gone.unlink()  # one ga run at 120 evaluations not finished yet
    TALLY.reset()
    md = run_suite(validate_config(dict(cfg)), tmp_path, finished_only=True)
    assert TALLY.recomputed == 0 and not gone.exists()
    assert "**Partial report: 7 of 8 runs finished**" in md
    rows = list(csv.DictReader((tmp_path / "results.csv").open()))
    # ga is short of a seed at 120: the instance is reported at 60 only, for every agent
    assert {(r["agent"], r["budget"]) for r in rows} == {("random", "60"), ("ga", "60")}
    for f in (tmp_path / "runs" / INST / "e60").rglob("result.json"):
        f.unlink()
    with pytest.raises(ValueError, match="no instance has every run finished"):
        run_suite(validate_config(dict(cfg)), tmp_path, finished_only=True)
    # from the command line, and refused for other kinds
    y = tmp_path / "s.yaml"
    y.write_text(json.dumps({**cfg, "out": str(tmp_path)}))
    assert main(["run", str(y), "--out", str(tmp_path), "--finished-only"]) == 2
    assert "nothing to report" in capsys.readouterr().err and not gone.exists()
    b = tmp_path / "b.yaml"
    b.write_text(
        "name: b\nkind: search\nworkload: {scenario: seed}\nmcm: {pattern: het-sides}\nagents: [random]\nbudget: {evals: 10}\n"
    )
    assert main(["run", str(b), "--out", str(tmp_path / "b"), "--finished-only"]) == 2
    err = capsys.readouterr().err
    assert "--finished-only reports a suite's finished runs" in err and err.count("\n") == 1
    assert not (tmp_path / "b").exists()


def test_head_to_head_counts_wins_and_ties_against_the_best_outside_median():
    from experiments.suite import _head_to_head

    cfg = {"agents": ["ga", "sa", "pymoo-ga", "ng-ngopt"], "tracks": ["unseeded"], "budgets": [9]}
    best = {  # instance -> agent -> best of each seed
        "a": {"ga": [1, 2, 3], "sa": [5, 5, 5], "pymoo-ga": [4, 4, 4], "ng-ngopt": [3, 3, 9]},
        "b": {"ga": [2, 2, 2], "sa": [1, 1, 1], "pymoo-ga": [2, 2, 2], "ng-ngopt": [7, 7, 7]},
        "c": {"ga": [6, 6, 6], "sa": [6, 6, 6], "pymoo-ga": [1, 1, 1]},  # ng excluded here
    }
    rows = [
        {"track": "unseeded", "budget": 9, "tier": "scar", "instance": n, "agent": a, "best": v}
        for n, per in best.items()
        for a, vs in per.items()
        for v in vs
    ]
    md = "".join(_head_to_head(cfg, rows))
    # medians: a: ga 2 < min(4, 3); b: ga 2 = pymoo 2, sa 1 < 2; c: both lose to pymoo's 1
    assert "| unseeded | 9 | scar | 1 won, 1 tied of 3 | 1 won, 0 tied of 3 |" in md
    assert _head_to_head({**cfg, "agents": ["ga", "sa"]}, rows) == []


@pytest.mark.parametrize(
    "change, message",
    [
        ({"tracks": ["both"]}, r"unknown track 'both'; choices: unseeded, seeded"),
        ({"instances": ["t-9x9"]}, r"unknown instance 't-9x9'; choices: t-2x2-sides-edp"),
        ({"tiers": ["huge"]}, r"unknown tier 'huge'; choices: tiny, scar, large"),
        ({"agents": ["hill"]}, r"unknown agent 'hill'; choices: random"),
        ({"budgets": [0]}, r"budgets.0: Input should be greater than 0"),
        (
            {"objective": "edp"},
            r"objective: unknown key; allowed: agent_options, agents, best_known",
        ),
        ({"budget": {"evals": 10}}, r"budget: unknown key"),
        ({"seed": 1}, r"seed: unknown key; allowed: agent_options, agents"),
        ({"exclude": {"ga": ["tiny", "t-0"]}}, r"unknown instance 't-0'; choices"),
        ({"exclude": {"sa": ["tiny"]}}, r"exclude: 'sa' is not among agents"),
        ({"tier_budgets": {"huge": [120]}}, r"tier_budgets: unknown tier 'huge'; choices: tiny"),
        ({"tier_budgets": {"tiny": [50]}}, r"tier_budgets.tiny: \[50\] must be a non-empty subset"),
        ({"tier_budgets": {"tiny": [120, 120]}}, r"tier_budgets.tiny: \[120, 120\] must be"),
        ({"budgets": [120, 120]}, r"budgets: \[120, 120\] lists a budget twice"),
        ({"history": "all"}, r"history: Input should be 'calls' or 'improvements'"),
    ],
)
def test_bad_suite_config(change, message):
    with pytest.raises(ValueError, match=message):
        validate_config({**CFG, **change})
