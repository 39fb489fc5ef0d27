"""Kind ``scar`` (SCAR's scenarios by strategy): baselines and searched patterns per scenario and
objective, EDP normalized to the standalone WS baseline (SCAR Table V's layout), the searched
schedules' placement, the search's convergence, and the layers on which ``os`` beats ``ws``."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from costmodel import ChipletClass, Problem, layer_costs, scenario

from ..progress import RunProgress
from .common import figures, search_runs, strategy_schedule

NORM_REF = "standalone-ws"  # SCAR Table V normalizes EDP to the standalone WS baseline


@dataclass
class ScarData:
    """Every strategy's figures per objective and scenario (``table``), the searched schedules'
    placement, ``table``'s EDP over :data:`NORM_REF` (``norm``), convergence rows, every layer
    and every model on ``os`` against ``ws`` and, per scenario, the layers ``os`` runs faster
    (``(speedup, "model/layer")``, largest first)."""

    rows: int
    cols: int
    pes: int
    objectives: list[str]
    table: list[dict]
    placement: list[dict]
    norm: list[dict]
    layer_rows: list[dict]
    model_rows: list[dict]
    convergence: list[dict]
    os_wins: dict[str, list[tuple[float, str]]]


def compute(cfg: dict, out: Path, ex=None) -> ScarData:
    rows_n, cols_n = cfg["rows"], cfg["cols"]
    pes = cfg["pes"]
    objectives = cfg["objectives"]
    table, placement = [], []
    n_search = sum(s.startswith("search:") for s in cfg["strategies"])
    total = len(cfg["scenarios"]) * len(objectives) * n_search * search_runs(cfg)
    with RunProgress(total, cfg["name"]) as bar:
        for obj in objectives:
            for sc in cfg["scenarios"]:
                w = scenario(sc)
                for strat in cfg["strategies"]:
                    p, sched = strategy_schedule(
                        w, strat, (rows_n, cols_n, pes), obj, cfg, out / obj / sc, bar, ex
                    )
                    if strat.startswith("search:"):
                        placement += [
                            {"objective": obj, "scenario": sc, "strategy": strat, **r}
                            for r in placement_rows(p, sched)
                        ]
                    table.append(
                        {
                            "objective": obj,
                            "scenario": sc,
                            "strategy": strat,
                            **figures(p, sched),
                            "os_layer_share": os_layer_share(p, sched),
                        }
                    )
    layer_rows, model_rows = _os_vs_ws(cfg["scenarios"], pes)
    return ScarData(
        rows_n,
        cols_n,
        pes,
        objectives,
        table,
        placement,
        scar_normalized(table, cfg["scenarios"]),
        layer_rows,
        model_rows,
        _convergence(cfg, out, objectives),
        os_wins(cfg["scenarios"], pes),
    )


def scar_normalized(table: list[dict], scenarios: list[str], ref: str = NORM_REF) -> list[dict]:
    """Per objective and scenario, every strategy's EDP over the EDP of strategy ``ref`` in the
    same scenario and objective (SCAR Table V's layout); empty when ``ref`` was not run."""
    out = []
    for obj in dict.fromkeys(r["objective"] for r in table):
        for sc in scenarios:
            sub = [r for r in table if r["objective"] == obj and r["scenario"] == sc]
            base = [r["edp"] for r in sub if r["strategy"] == ref]
            if base:
                out.append(
                    {
                        "objective": obj,
                        "scenario": sc,
                        **{r["strategy"]: r["edp"] / base[0] for r in sub},
                    }
                )
    return out


def _convergence(cfg: dict, out: Path, objectives: list[str]) -> list[dict]:
    """Per objective, scenario and searched pattern, from the runs' histories: the best over
    seeds at 10% and 50% of an evaluation budget over the final best, and the worst seed's final
    best over the best seed's; empty for a budget in seconds."""
    evals = cfg["budget"].get("evals")
    if not evals:
        return []
    rows = []
    for obj in objectives:
        for sc in cfg["scenarios"]:
            for strat in cfg["strategies"]:
                if not strat.startswith("search:"):
                    continue
                pattern = strat.split(":", 1)[1]
                hists = [
                    [json.loads(line) for line in f.read_text().splitlines() if line]
                    for a in cfg["agents"]
                    for s in cfg["seeds"]
                    if (f := out / obj / sc / pattern / a / f"seed{s}" / "history.jsonl").exists()
                ]
                if not hists:
                    continue
                finals = [h[-1]["best"] for h in hists]
                best = min(finals)
                rows.append(
                    {
                        "objective": obj,
                        "scenario": sc,
                        "strategy": strat,
                        "at_10pct_over_final": _best_until(hists, 0.1 * evals) / best,
                        "at_50pct_over_final": _best_until(hists, 0.5 * evals) / best,
                        "worst_seed_over_best_seed": max(finals) / best,
                    }
                )
    return rows


def _best_until(histories: list[list[dict]], evals: float) -> float:
    """The best objective any of ``histories`` reached within ``evals`` evaluations."""
    return min(
        (x["best"] for h in histories for x in h if x["evals"] <= evals), default=float("inf")
    )


def _depthwise(layer) -> bool:
    """A depthwise conv: one group per input channel."""
    return layer.kind == "conv" and layer.groups > 1 and layer.groups == layer.C


def placement_rows(problem: Problem, schedule) -> list[dict]:
    """Per model of a schedule: its layers and depthwise convs, how many of each sit on ``os``
    chiplets, the chiplets it uses and its windows."""
    rows = []
    for model, chips, wins in zip(problem.workload.models, schedule.chiplet, schedule.window):
        on_os = [problem.mcm.chiplet_class(int(c)).dataflow == "os" for c in chips]
        dw = [_depthwise(lay) for lay in model.layers]
        rows.append(
            {
                "model": model.name,
                "layers": len(on_os),
                "layers_on_os": sum(on_os),
                "depthwise": sum(dw),
                "depthwise_on_os": sum(a and b for a, b in zip(on_os, dw)),
                "chiplets": " ".join(str(c) for c in sorted(set(map(int, chips)))),
                "windows": len(set(map(int, wins))),
            }
        )
    return rows


def os_layer_share(problem: Problem, schedule) -> float:
    """Share of the workload's layers placed on chiplets whose dataflow is ``os``."""
    on = [problem.mcm.chiplet_class(int(c)).dataflow == "os" for cs in schedule.chiplet for c in cs]
    return sum(on) / len(on)


def _os_vs_ws(scenarios: list[str], pes: int) -> tuple[list[dict], list[dict]]:
    """Every layer of every model of ``scenarios`` (once per model and batch) on a ``ws`` and an
    ``os`` chiplet of ``pes`` PEs at the model's batch: cycles, energy, ``os`` speedup; and per
    model, the layers ``os`` runs in fewer cycles and the whole model's ratios, with
    ``best_of_both_over_ws``: cycles if every layer ran on its faster dataflow, over all-``ws``."""
    ws, os_ = ChipletClass.with_pes("ws", pes), ChipletClass.with_pes("os", pes)
    layers, models, seen = [], [], set()
    for sc in scenarios:
        for m in scenario(sc).models:
            if (m.name, m.batch) in seen:
                continue
            seen.add((m.name, m.batch))
            a = layer_costs(m.layers, ws, m.batch)
            b = layer_costs(m.layers, os_, m.batch)
            for i, layer in enumerate(m.layers):
                layers.append(
                    {
                        "model": m.name,
                        "batch": m.batch,
                        "layer": layer.name,
                        "kind": layer.kind,
                        "depthwise": _depthwise(layer),
                        "macs": layer.macs(m.batch),
                        "ws_cycles": float(a.cycles[i]),
                        "os_cycles": float(b.cycles[i]),
                        "os_speedup": float(a.cycles[i] / b.cycles[i]),
                        "ws_energy_j": float(a.energy_pj[i]) * 1e-12,
                        "os_energy_j": float(b.energy_pj[i]) * 1e-12,
                    }
                )
            faster = np.array(
                [
                    lay.kind != "eltwise" and b.cycles[i] < a.cycles[i]
                    for i, lay in enumerate(m.layers)
                ]
            )
            ws_total = float(a.cycles.sum())
            dw = np.array([_depthwise(lay) for lay in m.layers])
            models.append(
                {
                    "scenario": sc,
                    "model": m.name,
                    "batch": m.batch,
                    "layers": len(m.layers),
                    "os_faster_layers": int(faster.sum()),
                    "their_share_of_ws_cycles": float(a.cycles[faster].sum()) / ws_total,
                    "depthwise": int(dw.sum()),
                    "depthwise_share_of_ws_cycles": float(a.cycles[dw].sum()) / ws_total,
                    "depthwise_os_speedup": (
                        float(a.cycles[dw].sum() / b.cycles[dw].sum()) if dw.any() else None
                    ),
                    "depthwise_energy_os_over_ws": (
                        float(b.energy_pj[dw].sum() / a.energy_pj[dw].sum()) if dw.any() else None
                    ),
                    "cycles_os_over_ws": float(b.cycles.sum()) / ws_total,
                    "energy_os_over_ws": float(b.energy_pj.sum() / a.energy_pj.sum()),
                    "best_of_both_over_ws": float(np.minimum(a.cycles, b.cycles).sum()) / ws_total,
                }
            )
    return layers, models


def os_wins(scenarios: list[str], pes: int) -> dict[str, list[tuple[float, str]]]:
    """Per scenario, the layers (``model/layer``) on which ``os`` takes fewer cycles than ``ws``
    on a ``pes``-PE chiplet at the model's batch, with the speedup, largest first."""
    ws, os_ = ChipletClass.with_pes("ws", pes), ChipletClass.with_pes("os", pes)
    out = {}
    for sc in scenarios:
        wins = []
        for m in scenario(sc).models:
            a = layer_costs(m.layers, ws, m.batch)
            b = layer_costs(m.layers, os_, m.batch)
            for i, layer in enumerate(m.layers):
                if layer.kind != "eltwise" and b.cycles[i] < a.cycles[i]:
                    wins.append((a.cycles[i] / b.cycles[i], f"{m.name}/{layer.name}"))
        wins.sort(key=lambda x: -x[0])
        out[sc] = wins
    return out
