"""The ``targets`` experiment kind (experiments/kinds/targets.py): its config is checked field by
field, and a small run writes its files with every model's latency against its target."""

from __future__ import annotations

import csv

import pytest

from costmodel.config import model_to_dict
from experiments.config import TargetsConfig, validate_config
from experiments.runner import run_config

from .instances import tiny_workload

TINY = {
    "models": [model_to_dict(m) for m in tiny_workload().models],
    "targets": {"cnn": {"deadline_s": 1e-3, "priority": 2}, "mlp": {"target_fps": 6000}},
}


def _cfg(**kw) -> dict:
    base = {
        "name": "t",
        "kind": "targets",
        "scenarios": ["tiny"],
        "workloads": {"tiny": TINY},
        "strategies": ["standalone-ws", "simba-os", "search:het-sides"],
        "rows": 2,
        "cols": 2,
        "pes": 256,
        "objectives": ["energy@targets", "targets-met"],
        "agents": ["ga"],
        "seeds": [0],
        "budget": {"evals": 120},
    }
    base.update(kw)
    assert TargetsConfig.model_validate(base)  # the kind's model, as validate_config uses it
    return validate_config(base)


@pytest.mark.parametrize(
    "kw, needle",
    [
        ({"objectives": ["edp"]}, "unknown objective 'edp'; choices: energy@targets"),
        ({"scenarios": ["sc1"], "workloads": {}}, "'sc1' has no default latency targets"),
        ({"scenarios": ["nope"]}, "unknown scenario 'nope'"),
        ({"strategies": ["search:mystery"]}, "unknown strategy 'search:mystery'"),
        (
            {"workloads": {"tiny": {"models": TINY["models"]}}},
            "workloads.tiny: has no latency targets",
        ),
        (
            {"workloads": {"tiny": {**TINY, "targets": {"cnn": {"deadline_s": -1}}}}},
            "deadline_s must be a positive number",
        ),
    ],
)
def test_bad_targets_configs(kw, needle):
    with pytest.raises(ValueError, match=needle):
        _cfg(**kw)


def test_small_run_writes_targets_against_latency(tmp_path):
    cfg = _cfg()
    _, md = run_config(cfg, tmp_path)
    for f in ("summary.csv", "models.csv", "summary.md", "targets_met.png"):
        assert (tmp_path / f).stat().st_size > 0, f
    assert (tmp_path / "energy_energy-at-targets.png").exists()
    assert "## Searches minimize energy@targets" in md and "## Searches minimize targets-met" in md
    models = list(csv.DictReader((tmp_path / "models.csv").open()))
    # 2 objectives x 3 strategies x 3 models; 'one' has no target
    assert len(models) == 18
    for r in models:
        if r["model"] == "one":
            assert r["deadline_s"] == ""
            continue
        lat, dl = float(r["latency_s"]), float(r["deadline_s"])
        assert dl == (1e-3 if r["model"] == "cnn" else 6 / 6000)
        assert (r["met"] == "True") == (lat <= dl * (1 + 1e-9))
    summary = list(csv.DictReader((tmp_path / "summary.csv").open()))
    for s in summary:
        rows = [r for r in models if all(r[k] == s[k] for k in ("objective", "strategy"))]
        assert int(s["met"]) == sum(r["met"] == "True" for r in rows)
        assert int(s["targets"]) == 2
        # the searched fitness and the met count agree (feasibility first: < 1 iff all met)
        if s["objective"] == "energy@targets":
            assert (float(s["fitness"]) < 1) == (int(s["met"]) == 2)
