"""Kind ``seed`` (the seed paper's headline, arXiv 2312.09401): a searched MCM against a monolithic
chip with plain ``os`` and with ``os-best``, throughput and energy efficiency, over a sweep."""

from __future__ import annotations

from pathlib import Path

from costmodel import Problem, monolithic, sequential
from costmodel.config import load_mcm

from ..config import build_workload
from ..progress import RunProgress
from .common import figures, search_runs, searched

PAPER_SEED = {"throughput": 2.2, "energy_efficiency": 1.9}  # arXiv 2312.09401 abstract


def _cell(cfg: dict, workload_spec: dict, mcm_spec: dict, out: Path, bar, ex=None) -> dict:
    """One case: the monolithic chip's and the searched MCM's figures, and their ratios."""
    w = build_workload(workload_spec)
    m = load_mcm(mcm_spec)
    inferences = sum(x.batch for x in w.models)
    row = {}
    mono_w = max(2, len(w))
    for df in ("os", "os-best"):
        mp = Problem(w, monolithic(m, df), objective="throughput", max_windows=mono_w)
        f = figures(mp, sequential(mp))
        row[f"mono_{df}_thr"] = f["throughput"]
        row[f"mono_{df}_eff"] = inferences / f["energy_j"]
    for obj in cfg["objectives"]:
        p = Problem(w, m, objective=obj, max_windows=cfg.get("max_windows"))
        res, _ = searched(p, cfg, out / f"mcm-{obj}", bar, ex)
        key = "thr" if obj == "throughput" else "eff"
        row[f"mcm_{key}"] = (
            res["throughput"] if obj == "throughput" else inferences / res["energy_j"]
        )
    for df in ("os", "os-best"):
        row[f"thr_x_{df}"] = row["mcm_thr"] / row[f"mono_{df}_thr"]
        row[f"eff_x_{df}"] = row["mcm_eff"] / row[f"mono_{df}_eff"]
    return row


def cases(cfg: dict) -> list[tuple[str, dict, dict]]:
    """``(name, workload spec, MCM spec)``: the base case, then one per value swept."""
    base_w, base_m = cfg["workload"], cfg["mcm"]
    out = [("base", base_w, base_m)]
    sweep = cfg["sweep"]
    for gpt in sweep["gpt2"]:
        w = {
            "models": [
                dict(x, model=gpt) if x["model"].startswith("gpt2") else x for x in base_w["models"]
            ]
        }
        out.append((f"gpt2={gpt}", w, base_m))
    for sl in sweep["seq_len"]:
        w = {
            "models": [
                dict(x, seq_len=sl) if x["model"].startswith("gpt2") else x
                for x in base_w["models"]
            ]
        }
        out.append((f"seq_len={sl}", w, base_m))
    for b in sweep["batch"]:
        out.append((f"batch={b}", {"models": [dict(x, batch=b) for x in base_w["models"]]}, base_m))
    for bw in sweep["noc_bw"]:
        m = dict(base_m, chiplet=dict(base_m.get("chiplet", {}), noc_bw=bw))
        out.append((f"noc_bw={bw}", base_w, m))
    return out


def compute(cfg: dict, out: Path, ex=None) -> list[dict]:
    """One row per case (:func:`cases`): ``case``, the monolithic and MCM figures, the ratios."""
    todo = cases(cfg)
    rows = []
    n = len(todo) * search_runs(cfg) * len(cfg["objectives"])
    with RunProgress(n, cfg["name"]) as bar:
        for name, w, m in todo:
            rows.append({"case": name, **_cell(cfg, w, m, out / name.replace("=", "-"), bar, ex)})
    return rows
