"""The scar runner's Table V layout: EDP over the scenario's standalone-ws EDP, on a tiny run."""

import csv

import pytest

from experiments.config import validate_config
from experiments.runner import run_config

TINY = {
    "name": "scar-tiny",
    "kind": "scar",
    "scenarios": ["sc8", "sc10"],
    "rows": 2,
    "cols": 2,
    "pes": 256,
    "strategies": ["standalone-os", "standalone-ws", "simba-ws", "search:het-sides"],
    "objectives": ["edp", "latency"],
    "agents": ["ga"],
    "seeds": [0],
    "budget": {"evals": 64},
}


def _read(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_normalized_edp_is_edp_over_standalone_ws(tmp_path):
    out, md = run_config(validate_config(TINY), tmp_path / "run")
    summary = _read(out / "summary.csv")
    norm = _read(out / "edp_normalized.csv")
    assert len(norm) == 2 * 2  # objectives x scenarios
    for row in norm:
        sub = {
            r["strategy"]: float(r["edp"])
            for r in summary
            if r["objective"] == row["objective"] and r["scenario"] == row["scenario"]
        }
        assert set(sub) == set(TINY["strategies"])
        for strat, edp in sub.items():
            assert float(row[strat]) == pytest.approx(edp / sub["standalone-ws"], rel=1e-12)
        assert float(row["standalone-ws"]) == 1.0
    assert "EDP over the scenario's standalone-ws EDP" in md
    assert (out / "bars_edp_normalized_edp.png").is_file()
    placed = _read(out / "placement.csv")  # searched schedules only: 2 objectives x 2 scenarios
    assert {(r["objective"], r["scenario"], r["strategy"]) for r in placed} == {
        (o, sc, "search:het-sides") for o in TINY["objectives"] for sc in TINY["scenarios"]
    }
    layers = _read(out / "layers_os_vs_ws.csv")
    assert {r["model"] for r in layers} == {"d2go", "emformer", "eyecod", "hand-sp"}
    for r in layers:
        assert float(r["os_speedup"]) == pytest.approx(
            float(r["ws_cycles"]) / float(r["os_cycles"]), rel=1e-12
        )


def test_no_normalized_table_without_standalone_ws(tmp_path):
    cfg = dict(TINY, strategies=["simba-ws", "search:het-sides"], objectives=["edp"])
    out, md = run_config(validate_config(cfg), tmp_path / "run")
    assert not (out / "edp_normalized.csv").exists()
    assert "standalone-ws EDP" not in md
