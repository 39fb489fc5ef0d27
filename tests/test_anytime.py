"""Anytime analysis (experiments/anytime.py): curves, hitting times, ERT, ECDF, IOH export."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from experiments import anytime as A


def hist(pairs, dt=0.5):
    """A history from ``(evals, best-of-call)`` pairs; ``best`` is the running minimum."""
    out, best = [], math.inf
    for k, (e, y) in enumerate(pairs):
        best = min(best, y)
        out.append({"evals": e, "seconds": dt * (k + 1), "best": best})
    return out


H1 = hist([(10, 9.0), (20, 5.0), (30, 6.0), (40, 2.0)])
H2 = hist([(10, 8.0), (20, 7.0), (30, 7.5)])


def test_best_at_is_a_step_function():
    got = A.best_at(H1, [5, 10, 15, 20, 35, 40, 100])
    assert np.isnan(got[0])
    assert got[1:].tolist() == [9.0, 9.0, 5.0, 5.0, 2.0, 2.0]
    assert A.best_at(H1, [0.4, 0.5, 1.0, 1.9], key="seconds")[1:].tolist() == [9.0, 5.0, 5.0]
    with pytest.raises(ValueError, match="'evals' or 'seconds'"):
        A.best_at(H1, [1], key="time")


def test_hitting_time_and_ert_by_hand():
    assert A.hitting_time(H1, 5.0) == 20
    assert A.hitting_time(H1, 1.0) == math.inf
    assert A.hitting_time(H1, 5.0, "seconds") == 1.0
    # target 5: H1 reaches it at 20, H2 never (runs 30): ERT = (20 + 30) / 1
    assert A.ert([H1, H2], 5.0) == 50.0
    # target 8: H1 at 20, H2 at 10: (20 + 10) / 2
    assert A.ert([H1, H2], 8.0) == 15.0
    assert A.ert([H1, H2], 1.0) == math.inf


def test_ecdf_by_hand():
    # reference 2, gaps (1.5, 0): targets 5 and 2. Hitting times: H1 20, 40; H2 inf, inf
    runs = {"a": [H1, H2]}
    frac = A.ecdf(runs, {"a": 2.0}, [10, 20, 39, 40, 1000], gaps=(1.5, 0.0))
    assert frac.tolist() == [0.0, 0.25, 0.25, 0.5, 0.5]
    with pytest.raises(ValueError, match="positive reference"):
        A.targets(0.0)


def test_ioh_rows_improvements_and_last():
    assert A.ioh_rows(H1) == [(10, 9.0), (20, 5.0), (40, 2.0)]
    assert A.ioh_rows(H2) == [(10, 8.0), (20, 7.0), (30, 7.0)]


def test_ioh_export_matches_the_ioh_logger(tmp_path):
    """The same run written by ioh's own Analyzer logger and by :func:`write_ioh` (a history
    with one record per evaluation, ending on an improvement): same meta fields, same rows."""
    ioh = pytest.importorskip("ioh")
    ys = [5.0, 7.0, 3.0, 3.5, 2.0, 4.0, 1.0]
    xs = [[i % 3, 1, 2] for i in range(len(ys))]
    seq = iter(ys)

    def f(x):
        return next(seq)

    ioh.wrap_problem(
        f,
        "chk",
        ioh.ProblemClass.INTEGER,
        dimension=3,
        lb=0,
        ub=5,
        optimization_type=ioh.OptimizationType.MIN,
    )
    prob = ioh.get_problem("chk", instance=1, dimension=3, problem_class=ioh.ProblemClass.INTEGER)
    logger = ioh.logger.Analyzer(root=str(tmp_path), folder_name="ref", algorithm_name="alg")
    prob.attach_logger(logger)
    for x in xs:
        prob(x)
    logger.close()
    ref_meta = json.loads(next((tmp_path / "ref").glob("*.json")).read_text())
    ref_dat = next((tmp_path / "ref").glob("data_*/*.dat"))

    history = hist([(i + 1, y) for i, y in enumerate(ys)])
    fid = ref_meta["function_id"]
    meta_path = A.write_ioh(tmp_path / "ours", "alg", fid, "chk", 3, [(history, xs[-1])])
    meta = json.loads(meta_path.read_text())
    for key in ("function_id", "function_name", "maximization", "attributes"):
        assert meta[key] == ref_meta[key]
    assert meta["algorithm"]["name"] == ref_meta["algorithm"]["name"]
    (sc,), (ref_sc,) = meta["scenarios"], ref_meta["scenarios"]
    assert sc["dimension"] == ref_sc["dimension"] and sc["path"] == ref_sc["path"]
    (run,), (ref_run,) = sc["runs"], ref_sc["runs"]
    assert run["evals"] == ref_run["evals"] == len(ys)
    assert run["best"]["evals"] == ref_run["best"]["evals"]
    assert run["best"]["y"] == pytest.approx(ref_run["best"]["y"])
    assert run["best"]["x"] == ref_run["best"]["x"]
    ours = A.read_ioh_dat(tmp_path / "ours" / sc["path"])
    theirs = A.read_ioh_dat(ref_dat)
    assert ours == theirs == [[(1, 5.0), (3, 3.0), (5, 2.0), (7, 1.0)]]
