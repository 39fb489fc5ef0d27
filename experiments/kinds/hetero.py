"""Kind ``hetero`` (where does heterogeneity pay?): per workload mix, chiplet size, dataflow pair
and L2->PE bandwidth, the best homogeneous objective over the best heterogeneous one."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from costmodel import ChipletClass, Problem, layer_costs, mcm

from ..config import build_workload
from ..progress import RunProgress
from .common import search_runs, searched


@dataclass
class HeteroData:
    """One row per cell (``cells``) and the same ratios as a matrix, mix x chiplet size down
    (``row_labels``), dataflow pair x bandwidth across (``col_labels``)."""

    rows: int
    cols: int
    het_patterns: list[str]
    cells: list[dict]
    matrix: np.ndarray
    row_labels: list[str]
    col_labels: list[str]


def compute(cfg: dict, out: Path, ex=None) -> HeteroData:
    R, C = cfg["rows"], cfg["cols"]
    het_patterns = cfg["het_patterns"]
    rows_lbl, cols_lbl, cells = [], [], []
    for mix in cfg["mixes"]:
        for pes in cfg["chiplet_pes"]:
            rows_lbl.append(f"{mix}, {pes} PEs")
    for a, b in cfg["pairs"]:
        for bw in cfg["noc_bw"]:
            cols_lbl.append(f"{a}+{b}, bw {bw or 'unconstrained'}")
    matrix = np.full((len(rows_lbl), len(cols_lbl)), np.nan)
    n = len(rows_lbl) * len(cols_lbl) * (len(het_patterns) + 2) * search_runs(cfg)
    with RunProgress(n, cfg["name"]) as bar:
        for i, (mix, pes) in enumerate([(m, p) for m in cfg["mixes"] for p in cfg["chiplet_pes"]]):
            w = build_workload({"models": cfg["mixes"][mix]})
            for j, ((a, b), bw) in enumerate(
                [(pr, bw) for pr in cfg["pairs"] for bw in cfg["noc_bw"]]
            ):
                res = {}
                for pattern in [*het_patterns, "homo-ws", "homo-os"]:
                    m = mcm(pattern, R, C, pes=pes, dataflows=(a, b), noc_bw=bw)
                    p = Problem(
                        w, m, objective=cfg["objective"], max_windows=cfg.get("max_windows")
                    )
                    sub = out / mix / f"pes{pes}" / f"{a}+{b}" / f"bw{bw}" / pattern
                    r, _ = searched(p, cfg, sub, bar, ex)
                    # homo-ws / homo-os = all first / all second dataflow of the pair
                    label = {"homo-ws": f"homo-{a}", "homo-os": f"homo-{b}"}.get(pattern, pattern)
                    res[label] = r["best"]
                best_het = min(res[x] for x in het_patterns)
                best_homo = min(res[f"homo-{a}"], res[f"homo-{b}"])
                matrix[i, j] = best_homo / best_het
                cls_a = ChipletClass.with_pes(a, pes, noc_bw=bw)
                cls_b = ChipletClass.with_pes(b, pes, noc_bw=bw)
                wins = []
                for model in w.models:
                    x = layer_costs(model.layers, cls_a, model.batch)
                    y = layer_costs(model.layers, cls_b, model.batch)
                    wins += [
                        f"{model.name}/{lay.name}"
                        for k, lay in enumerate(model.layers)
                        if lay.kind != "eltwise" and y.cycles[k] < x.cycles[k]
                    ]
                cells.append(
                    {
                        "mix": mix,
                        "pes": pes,
                        "pair": f"{a}+{b}",
                        "noc_bw": bw,
                        **{f"best_{k}": v for k, v in res.items()},
                        "homo_over_het": matrix[i, j],
                        "layers_second_faster": len(wins),
                        "examples": "; ".join(wins[:4]),
                    }
                )
    return HeteroData(R, C, het_patterns, cells, matrix, rows_lbl, cols_lbl)
