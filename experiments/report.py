"""From an experiment's data (:mod:`experiments.kinds`) to its files: the CSVs, the pictures
(:mod:`experiments.plots`) and ``summary.md``, each written whole (:mod:`costmodel.files`).

Summaries state what the data say (figures, ratios, which strategy is best and by how much) and
nothing more: what the results mean, and how they compare with the papers, is written in
README.md and docs/, beside the tables :mod:`experiments.readme` copies from these summaries.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from costmodel import simulate
from costmodel.files import atomic_open, write_text_atomic

from . import plots
from .benchmark import summarize
from .kinds.benchmark import BenchmarkProblem
from .kinds.hetero import HeteroData
from .kinds.scar import NORM_REF, ScarData
from .kinds.search import SearchData
from .kinds.seed import PAPER_SEED
from .kinds.targets import TargetsData, objective_folder


def write_csv(path: Path, rows: list[dict]) -> None:
    """``rows`` as a CSV whose columns are every key in order of first appearance."""
    fields = list(dict.fromkeys(k for r in rows for k in r))
    with atomic_open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        w.writerows(rows)


def md_table(rows: list[dict], fmt: str = ".4g") -> str:
    """A Markdown table; a missing or ``None`` cell (not applicable) prints as ``-``."""
    cols = list(dict.fromkeys(k for r in rows for k in r))
    out = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        cells = [
            format(r[c], fmt)
            if isinstance(r.get(c), float)
            else ("-" if r.get(c) is None else str(r[c]))
            for c in cols
        ]
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


def _budget(cfg: dict) -> dict:
    """The budget as the config gave it (limits left unset omitted)."""
    return {k: v for k, v in cfg["budget"].items() if v is not None}


def _finish(out: Path, md: str) -> str:
    write_text_atomic(out / "summary.md", md)
    return md


# --- kind: search ----------------------------------------------------------------------------
def search_report(cfg: dict, data: SearchData, out: Path) -> str:
    problem, schedule, table = data.problem, data.schedule, data.table
    write_csv(out / "summary.csv", table)
    plots.gantt(
        simulate(problem, schedule),
        problem,
        out / "gantt.png",
        title=f"best schedule: {problem.workload.name} on {problem.mcm.name}",
    )
    plots.floorplan(problem, schedule, problem.evaluate(schedule), out / "floorplan.png")
    if data.fronts:
        base = {t["strategy"]: (t["latency_s"], t["energy_j"]) for t in table if "latency_s" in t}
        plots.pareto(
            data.fronts,
            base,
            out / "pareto.png",
            title=f"latency vs energy: NSGA-II fronts of {len(cfg['seeds'])} seeds",
        )
    return _finish(
        out,
        f"# {cfg['name']}\n\n{problem.workload.name} on {problem.mcm.name}, objective "
        f"{cfg['objective']}, budget {_budget(cfg)}, seeds {cfg['seeds']}.\n\n"
        f"## Best schedule against the baselines\n\n{md_table(table)}\n\n"
        f"## Agents (final objective over seeds)\n\n{md_table(summarize(data.rows))}\n\n"
        f"Pictures: fitness_curves.png, gantt.png, floorplan.png"
        f"{', pareto.png' if data.fronts else ''}.\n",
    )


# --- kind: seed ------------------------------------------------------------------------------
def seed_report(cfg: dict, rows: list[dict], out: Path) -> str:
    write_csv(out / "summary.csv", rows)
    short = [
        {
            "case": r["case"],
            "throughput x OS": r["thr_x_os"],
            "throughput x best-OS": r["thr_x_os-best"],
            "energy eff x OS": r["eff_x_os"],
            "energy eff x best-OS": r["eff_x_os-best"],
            "MCM inf/s": r["mcm_thr"],
            "MCM inf/J": r["mcm_eff"],
        }
        for r in rows
    ]
    plots.bars(
        {
            r["case"]: {
                "throughput x best-OS": r["thr_x_os-best"],
                "energy eff x best-OS": r["eff_x_os-best"],
            }
            for r in rows
        },
        out / "ratios.png",
        "MCM / monolithic best-OS",
        log=False,
        title="seed: 2x2 MCM (3 WS + 1 OS) over a 16384-PE monolithic OS chip",
    )
    base = rows[0]
    return _finish(
        out,
        f"# {cfg['name']}: GPT-2 + ResNet-50 on a 2x2 MCM against a monolithic OS chip\n\n"
        f"Paper (arXiv 2312.09401): up to {PAPER_SEED['throughput']}x throughput and "
        f"{PAPER_SEED['energy_efficiency']}x energy efficiency against an optimized OS "
        f"monolithic accelerator.\n\n"
        f"Ours, base case: {base['thr_x_os-best']:.2f}x throughput and "
        f"{base['eff_x_os-best']:.2f}x energy efficiency against the monolithic chip with the "
        f"best OS mapping per layer (`os-best`); against plain `os` (ShiDianNao-like) "
        f"{base['thr_x_os']:.1f}x and {base['eff_x_os']:.1f}x.\n\n"
        f"## Ratios per case\n\n{md_table(short)}\n",
    )


# --- kind: scar ------------------------------------------------------------------------------
def scar_report(cfg: dict, data: ScarData, out: Path) -> str:
    table, norm, placement = data.table, data.norm, data.placement
    write_csv(out / "summary.csv", table)
    if norm:
        write_csv(out / "edp_normalized.csv", norm)
    if placement:
        write_csv(out / "placement.csv", placement)
    write_csv(out / "layers_os_vs_ws.csv", data.layer_rows)
    files = [
        "summary.csv (every row, with `os_layer_share`, the share of the workload's layers "
        "on `os` chiplets)"
    ]
    if norm:
        files.append("edp_normalized.csv")
    if placement:
        files.append(
            "placement.csv (per searched schedule and model: its layers and depthwise convs on "
            "`os` chiplets, its chiplets and windows)"
        )
    files.append("layers_os_vs_ws.csv")
    geometry = f"{data.rows}x{data.cols} MCMs of {data.pes}-PE chiplets"
    parts = [
        f"# {cfg['name']}: SCAR scenarios on {geometry}\n",
        f"Strategies {cfg['strategies']}; searched with {cfg['agents']} x seeds {cfg['seeds']}, "
        f"budget {_budget(cfg)} per run, the best run kept. Files: {', '.join(files)}.\n",
    ]
    for obj in data.objectives:
        sub = [r for r in table if r["objective"] == obj]
        key = "edp" if obj == "edp" else "latency_s"
        grid = {
            sc: {r["strategy"]: r[key] for r in sub if r["scenario"] == sc}
            for sc in cfg["scenarios"]
        }
        label = "EDP (J s)" if obj == "edp" else "latency (s)"
        plots.bars(
            grid,
            out / f"bars_{obj}.png",
            label,
            title=f"{label} per scenario and strategy, {geometry} (searched for {obj})",
            values=True,
        )

        def per_scenario(field: str, rows: list[dict] = sub) -> list[dict]:
            return [
                {"scenario": sc, **{r["strategy"]: r[field] for r in rows if r["scenario"] == sc}}
                for sc in cfg["scenarios"]
            ]

        parts.append(
            f"## Searched for {obj}\n\nLatency (s):\n\n{md_table(per_scenario('latency_s'))}\n\n"
            f"Latency (s) of the same schedules in the discrete-event simulator:\n\n"
            f"{md_table(per_scenario('simulated_latency_s'))}\n\n"
            f"EDP (J s):\n\n{md_table(per_scenario('edp'))}\n\n"
            f"Share of the workload's layers on `os` chiplets:\n\n"
            f"{md_table(per_scenario('os_layer_share'), '.3f')}\n"
        )
        nsub = [
            {k: v for k, v in r.items() if k != "objective"} for r in norm if r["objective"] == obj
        ]
        if nsub:
            plots.bars(
                {r["scenario"]: {k: v for k, v in r.items() if k != "scenario"} for r in nsub},
                out / f"bars_edp_normalized_{obj}.png",
                f"EDP / EDP of {NORM_REF}",
                title=f"EDP over {NORM_REF} per scenario, {geometry} (searched for {obj}; "
                f"< 1: better than {NORM_REF})",
                values=True,
            )
            parts.append(
                f"EDP over the scenario's {NORM_REF} EDP (SCAR Table V's layout; < 1: better "
                f"than {NORM_REF}; edp_normalized.csv):\n\n{md_table(nsub, '.3f')}\n"
            )
    if data.convergence:
        parts.append(
            "## Search convergence\n\nPer searched pattern: the best over seeds after 10% and "
            "50% of the budget over the final best, and the worst seed's final best over the "
            "best seed's (1.000: the final best was reached by then / every seed ended equal; "
            f"from the runs' history.jsonl):\n\n{md_table(data.convergence, '.3f')}\n"
        )
    parts.append(_scar_het_vs_homo(cfg, data))
    return _finish(out, "\n".join(parts))


def _scar_het_vs_homo(cfg: dict, data: ScarData) -> str:
    """Best heterogeneous against best homogeneous per scenario, and the layers that decide it.
    Figures only: README.md holds them against SCAR's."""
    table = data.table
    lines = [
        "## Heterogeneous against homogeneous\n",
        "Per scenario, the best homogeneous strategy's objective (baselines and searched "
        "homogeneous patterns) over the best heterogeneous one's (> 1: the heterogeneous one "
        "is lower):\n",
    ]
    for obj in dict.fromkeys(r["objective"] for r in table):
        key = "edp" if obj == "edp" else "latency_s"
        for sc in cfg["scenarios"]:
            sub = [r for r in table if r["objective"] == obj and r["scenario"] == sc]
            het = [r for r in sub if "het" in r["strategy"]]
            homo = [r for r in sub if "het" not in r["strategy"]]
            if het and homo:
                a, b = min(homo, key=lambda r: r[key]), min(het, key=lambda r: r[key])
                lines.append(
                    f"- {obj}, {sc}: {a[key] / b[key]:.3f} ({b['strategy']} against "
                    f"{a['strategy']})"
                )
    lines.append(
        f"\nLayer by layer: per model, the layers on which `os` beats `ws` (fewer cycles on a "
        f"{data.pes}-PE chiplet at the model's batch and the default L2->PE bandwidth), their "
        f"share of the model's cycles on `ws`, the whole model's cycles and energy on `os` over "
        f"`ws`, and its cycles if every layer ran on its faster dataflow over all-`ws`; "
        f"`depthwise`: the depthwise convs, their share of the model's `ws` cycles, their cycles "
        f"on `ws` over `os` and their energy on `os` over `ws`. Each model and batch once, under "
        f"the first scenario that has it (layers_os_vs_ws.csv has every layer):\n\n"
        f"{md_table(data.model_rows, '.3f')}\n\n"
        f"The `os`-faster layers with the largest speedups, per scenario:\n"
    )
    for sc in cfg["scenarios"]:
        wins = data.os_wins[sc]
        shown = ", ".join(f"{name} ({s:.1f}x)" for s, name in wins[:8]) or "none"
        lines.append(f"- {sc}: {len(wins)} layers: {shown}{' ...' if len(wins) > 8 else ''}")
    return "\n".join(lines) + "\n"


# --- kind: hetero ----------------------------------------------------------------------------
#: a cell is listed in the hetero summary when its ratio exceeds this
HETERO_LISTED_ABOVE = 1.01


def hetero_report(cfg: dict, data: HeteroData, out: Path) -> str:
    R, C, cells = data.rows, data.cols, data.cells
    write_csv(out / "summary.csv", cells)
    plots.heatmap(
        data.matrix,
        data.row_labels,
        data.col_labels,
        out / "heatmap.png",
        title=f"best homogeneous / best heterogeneous {cfg['objective']} on {R}x{C} MCMs "
        "(> 1: heterogeneity pays)",
        label=f"homogeneous / heterogeneous {cfg['objective']}",
        xlabel="dataflow pair, L2->PE bandwidth (elements/cycle; every transfer pays the "
        "default latency, 1 cycle)",
        ylabel="workload mix, PEs per chiplet",
    )
    above = [c for c in cells if c["homo_over_het"] > HETERO_LISTED_ABOVE]
    listed = "; ".join(
        f"{c['mix']} @{c['pes']} {c['pair']} bw={c['noc_bw']} ({c['homo_over_het']:.3f}x)"
        for c in above
    )
    return _finish(
        out,
        f"# {cfg['name']}: where does heterogeneity pay?\n\n"
        f"Each cell: the best {cfg['objective']} over homogeneous patterns (all first or all "
        f"second dataflow) over the best over heterogeneous ones ({', '.join(data.het_patterns)}),"
        f" each searched with {cfg['agents']} x seeds {cfg['seeds']}, budget {_budget(cfg)}, "
        f"on {R}x{C} MCMs (`homo_over_het` > 1: the heterogeneous one is lower).\n\n"
        f"{md_table(cells)}\n\n"
        f"Cells with `homo_over_het` above {HETERO_LISTED_ABOVE}: {len(above)} of {len(cells)}"
        + (f": {listed}" if above else "")
        + ".\n",
    )


# --- kind: benchmark -------------------------------------------------------------------------
def benchmark_report(cfg: dict, problems: list[BenchmarkProblem], out: Path) -> str:
    parts = [f"# {cfg['name']}: agents x seeds, equal budgets {_budget(cfg)}\n"]
    for b in problems:
        opt = f" (exact optimum {b.optimum:.6g})" if b.optimum else ""
        parts.append(f"## {b.name}{opt}\n\n{md_table(summarize(b.rows))}\n")
        if b.baselines:
            parts.append(_gain_table(b))
    if len(problems) > 1 and all(b.baselines for b in problems):
        parts.append(_overview_table(problems))
    write_csv(out / "summary.csv", [{"problem": b.name, **r} for b in problems for r in b.rows])
    write_csv(
        out / "baselines.csv",
        [
            {"problem": b.name, "baseline": k, "objective": v}
            for b in problems
            for k, v in b.baselines.items()
        ],
    )
    return _finish(out, "\n".join(parts))


def _gain_table(b: BenchmarkProblem) -> str:
    """Each agent's median against the problem's best baseline schedule: gain = 1 - median /
    best baseline (positive: the agent's schedule is better)."""
    name, best = b.best_baseline
    rows = []
    for agent, vals in b.bests_by_agent().items():
        med = float(np.median(vals))
        rows.append(
            {
                "agent": agent,
                "median": med,
                "gain over best baseline": 1.0 - med / best,
                "seeds better than it": f"{sum(v < best for v in vals)}/{len(vals)}",
            }
        )
    return (
        f"Best baseline schedule: {name} {best:.4g} (every baseline in baselines.csv)\n\n"
        f"{md_table(rows)}\n"
    )


def _overview_table(problems: list[BenchmarkProblem]) -> str:
    """One row per problem: its best baseline, simba-ws where the mesh has it, and each agent's
    median (the per-problem sections have the spreads)."""
    rows = []
    for b in problems:
        name, best = b.best_baseline
        row: dict = {"problem": b.name, "best baseline": f"{name} {best:.4g}"}
        if "simba-ws" in b.baselines:
            row["simba-ws"] = b.baselines["simba-ws"]
        for agent, vals in b.bests_by_agent().items():
            row[agent] = float(np.median(vals))
        rows.append(row)
    return "## All problems: median best per agent, and the baselines\n\n" + md_table(rows) + "\n"


# --- kind: scaling ---------------------------------------------------------------------------
def scaling_report(cfg: dict, rows: list[dict], out: Path) -> str:
    write_csv(out / "summary.csv", rows)
    plots.scaling(rows, out / "scaling.png", cfg["objective"])
    return _finish(
        out,
        f"# {cfg['name']}: scaling with chiplets and models\n\nAgents {cfg['agents']}, seeds "
        f"{cfg['seeds']}, budget {_budget(cfg)}, objective {cfg['objective']}; evaluations "
        f"per second of evaluate_batch on {cfg.get('population', 1024)} random schedules, one "
        f"process.\n\n{md_table(rows)}\n",
    )


#: per kind: ``(config, the kind's data, results folder) -> summary.md text``
# --- targets ---


def _targets_heatmap(data: TargetsData, cfg: dict, path: Path) -> Path:
    """Per objective a panel: rows ``scenario / model``, columns strategies, colour
    log2(latency / deadline) (blue: met, red: missed), each cell its ratio and a check mark."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import TwoSlopeNorm

    strategies = cfg["strategies"]
    objs = data.objectives
    labels = list(
        dict.fromkeys(
            f"{m['scenario']} / {m['model']}" for m in data.models if m["objective"] == objs[0]
        )
    )
    mats = []
    for obj in objs:
        mat = np.full((len(labels), len(strategies)), np.nan)
        for m in data.models:
            if m["objective"] == obj and "deadline_s" in m:
                i = labels.index(f"{m['scenario']} / {m['model']}")
                j = strategies.index(m["strategy"])
                mat[i, j] = m["latency_s"] / m["deadline_s"]
        mats.append(mat)
    lg = np.log2(np.concatenate([m.ravel() for m in mats]))
    lim = max(float(np.nanmax(np.abs(lg))), 1.0)
    norm = TwoSlopeNorm(vmin=-lim, vcenter=0.0, vmax=lim)
    fig, axes = plt.subplots(
        1,
        len(objs),
        figsize=(1.25 * len(strategies) * len(objs) + 4, 0.34 * len(labels) + 2.6),
        squeeze=False,
    )
    im = None
    for k, (ax, obj, mat) in enumerate(zip(axes[0], objs, mats)):
        im = ax.imshow(np.log2(mat), cmap="RdBu_r", norm=norm, aspect="auto")
        for i in range(len(labels)):
            for j in range(len(strategies)):
                v = mat[i, j]
                if np.isnan(v):
                    continue
                mark = "\u2713" if v <= 1 + 1e-9 else "\u2717"
                dark = abs(np.log2(v)) > 0.6 * lim
                ax.text(
                    j,
                    i,
                    f"{v:.2g} {mark}",
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white" if dark else "black",
                )
        ax.set_xticks(range(len(strategies)))
        ax.set_xticklabels(strategies, rotation=30, ha="right", fontsize=8)
        ax.set_yticks(range(len(labels)))
        ax.set_yticklabels(labels if k == 0 else [""] * len(labels), fontsize=8)
        ax.set_title(f"searches minimize {obj}", fontsize=9)
        # a line between scenarios
        scs = [lab.split(" / ")[0] for lab in labels]
        for i in range(1, len(scs)):
            if scs[i] != scs[i - 1]:
                ax.axhline(i - 0.5, color="black", linewidth=0.8)
    fig.colorbar(im, ax=axes[0].tolist(), label="latency / deadline (log2; < 0: met)", shrink=0.8)
    fig.suptitle(
        f"{cfg['name']}: each model's latency over its deadline ({data.rows}x{data.cols} MCMs of "
        f"{data.pes}-PE chiplets; \u2713 met, \u2717 missed)",
        fontsize=10,
    )
    with atomic_open(path, "wb") as f:
        fig.savefig(f, dpi=110, format="png", bbox_inches="tight")
    plt.close(fig)
    return path


def targets_report(cfg: dict, data: TargetsData, out: Path) -> str:
    write_csv(out / "summary.csv", data.table)
    write_csv(out / "models.csv", data.models)
    _targets_heatmap(data, cfg, out / "targets_met.png")
    geometry = f"{data.rows}x{data.cols} MCMs of {data.pes}-PE chiplets"
    budget = {k: v for k, v in cfg["budget"].items() if v is not None}
    parts = [
        f"# {cfg['name']}: per-model latency targets on {geometry}\n",
        f"Scenarios {cfg['scenarios']} with their latency targets (sc6-sc10: XRBench's usage "
        "scenario rates, a 1 s deadline per batch; docs/evaluation.md, Targets). Strategies "
        f"{cfg['strategies']}; searched with {cfg['agents']} x seeds {cfg['seeds']}, budget "
        f"{budget} per run, the best run kept, for each objective of {data.objectives}. "
        "Baselines are fixed schedules: the same in every objective's table. Files: "
        "summary.csv, models.csv (per model: latency, deadline, met, slack), targets_met.png, "
        "energy_<objective>.png.\n",
        "![targets met](targets_met.png)\n",
    ]
    for obj in data.objectives:
        sub = [r for r in data.table if r["objective"] == obj]
        grid = {
            sc: {r["strategy"]: r["energy_j"] for r in sub if r["scenario"] == sc}
            for sc in cfg["scenarios"]
        }
        name = f"energy_{objective_folder(obj)}.png"
        plots.bars(
            grid,
            out / name,
            "energy (J)",
            title=f"energy per scenario and strategy, {geometry} (searched for {obj})",
            values=True,
        )
        met = [
            {
                "scenario": sc,
                **{r["strategy"]: f"{r['met']}/{r['targets']}" for r in sub if r["scenario"] == sc},
            }
            for sc in cfg["scenarios"]
        ]
        energy = [
            {
                "scenario": sc,
                **{r["strategy"]: r["energy_j"] for r in sub if r["scenario"] == sc},
            }
            for sc in cfg["scenarios"]
        ]
        share = [
            {
                "scenario": sc,
                **{
                    r["strategy"]: r["os_layer_share"]
                    for r in sub
                    if r["scenario"] == sc and r["strategy"].startswith("search:het")
                },
            }
            for sc in cfg["scenarios"]
        ]
        viol = [
            {
                "scenario": sc,
                **{r["strategy"]: r["violation"] for r in sub if r["scenario"] == sc},
            }
            for sc in cfg["scenarios"]
        ]
        parts += [
            f"## Searches minimize {obj}\n",
            "Targets met (of the scenario's):\n",
            md_table(met) + "\n",
            "Energy (J):\n",
            md_table(energy) + "\n",
            "Total normalized violation (sum over models of latency / deadline - 1 where "
            "missed; 0: all met):\n",
            md_table(viol, ".3g") + "\n",
            "Share of the workload's layers the searched heterogeneous schedules put on `os` "
            "chiplets (per model in models.csv: layers_on_os):\n",
            md_table(share, ".3f") + "\n",
            f"![energy]({name})\n",
        ]
        lines = []
        for sc in cfg["scenarios"]:
            rows = [r for r in sub if r["scenario"] == sc]
            most = max(r["met_priority"] for r in rows)
            best = [r for r in rows if r["met_priority"] == most]
            least = min(best, key=lambda r: r["energy_j"])
            feasible = [r for r in rows if r["met"] == r["targets"]]
            tail = (
                f"; {len(feasible)} of {len(rows)} strategies meet every target"
                if feasible
                else "; no strategy meets every target"
            )
            lines.append(
                f"- {sc}: most targets met {least['met']}/{least['targets']} by "
                f"{', '.join(r['strategy'] for r in best)}; the least energy among them "
                f"{least['energy_j']:.4g} J ({least['strategy']}){tail}."
            )
        parts += ["Per scenario:\n", "\n".join(lines) + "\n"]
    md = "\n".join(parts)
    write_text_atomic(out / "summary.md", md)
    return md


REPORTS: dict[str, Callable[[dict, Any, Path], str]] = {
    "search": search_report,
    "seed": seed_report,
    "scar": scar_report,
    "hetero": hetero_report,
    "benchmark": benchmark_report,
    "scaling": scaling_report,
    "targets": targets_report,
}
