"""The benchmark suite runner (config ``kind: suite``): agents x seeds x budgets x tracks on the
instances of :mod:`search.suite`, reported as gain over the best SCAR baseline and gap to the
proven optimum (tiny tier) or to the lower bound (:mod:`costmodel.bounds`), with the anytime
analysis of :mod:`experiments.anytime` and an IOHprofiler export.

Layout of ``out``::

    runs/<instance>/e<evals>/<track|any>/<agent>/seed<k>/{history.jsonl,result.json}
    results.csv        one row per run (both tracks; a track-blind agent's run appears in both)
    ert.csv            ERT to 5% and 1% of the best known, per instance, track, budget, agent
    summary.md         leaderboard per track and budget, tiers apart, and per-instance medians
    curves/<instance>.png   fitness curves by evaluations and seconds, both tracks (the largest
                            budget its tier runs at)
    ecdf_<tier>.png    ECDF over targets x instances x seeds, per track and budget
    ioh/<agent>-<track>-e<evals>/   IOHprofiler files (IOHanalyzer reads the folder)
    best_known.json    with ``best_known: best_known.json`` (a path relative to ``out``; started
                       from the package's file); without the key the package's
                       search/best_known.json itself is updated, with re-verified schedules only

Tracks: ``unseeded`` runs every agent from its own random or constructive start (the option
``seed_baselines`` of ``ga``, ``sa`` and ``nsga2`` is off); ``seeded`` lets the baselines enter
(``seed_baselines`` on). An agent without that option does the same in both, so it runs once
(folder ``any``) and is reported in both tracks.

``exclude: {agent: [tier or instance, ...]}`` leaves an agent out where it cannot run (the
summary says so): ``scar`` enumerates ``3^models`` micro-batch tuples before its first candidate,
so on 20 models it exhausts memory (23 GB on sc5x4, measured; see the report to issue 12).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from costmodel.files import write_text_atomic
from search import Budget, agent_class, is_outside
from search import suite as S

from . import anytime as A
from .benchmark import TALLY, BenchmarkRun, finished_run, run_tasks
from .report import md_table, write_csv

ERT_GAPS = (0.05, 0.01)


def track_blind(agent: str) -> bool:
    """An agent whose start does not depend on the track (it has no ``seed_baselines``)."""
    return "seed_baselines" not in agent_class(agent).options


def _options(cfg: dict, agent: str, track: str) -> dict:
    opts = dict(cfg["agent_options"].get(agent) or {})
    if not track_blind(agent):
        opts["seed_baselines"] = track == "seeded"
    return opts


def _folder(out: Path, inst: str, evals: int, agent: str, track: str) -> Path:
    return out / "runs" / inst / f"e{evals}" / ("any" if track_blind(agent) else track)


def tier_budgets(cfg: dict, tier: str) -> list[int]:
    """The budgets a tier runs at: ``tier_budgets[tier]`` if the config restricts it, else all."""
    return list(cfg["tier_budgets"].get(tier, cfg["budgets"]))


def run_suite(cfg: dict, out: Path, ex=None, finished_only: bool = False) -> str:
    """Run a suite config validated by :func:`experiments.config.validate_config` into ``out``
    (finished runs of the same resolved config are reused: :func:`experiments.benchmark.run_one`);
    returns the summary markdown. ``finished_only``: start no run, report the finished ones
    (the summary says how many are missing), e.g. while a long suite is only part done."""
    from search.executors import TaskFailure

    out = Path(out)
    executor = ex
    insts = S.select(cfg["tiers"], cfg["instances"])
    bk_path = Path(cfg["best_known"]) if cfg.get("best_known") else S.BEST_KNOWN
    if not bk_path.is_absolute() and cfg.get("best_known"):
        bk_path = out / bk_path  # relative to the results folder
    if not bk_path.exists():  # start from the package's values (the proven tiny optima)
        S.save_best_known(S.load_best_known(), bk_path)
    rows: list[dict] = []
    runs: dict[tuple, list[BenchmarkRun]] = {}  # (inst, track, evals, agent) -> runs
    refs: dict[str, dict] = {}
    failed: list[str] = []
    # every instance at the smallest budget first, then the next: an interrupted suite has a
    # complete leaderboard at the small budgets before the long runs start
    problems = {inst.name: inst.problem() for inst in insts}
    missing = planned = 0
    complete: set[tuple] = set()  # (instance, track, budget) whose runs all finished
    for evals in sorted(cfg["budgets"]):
        for inst in insts:
            if evals not in tier_budgets(cfg, inst.tier):
                continue
            tasks, keys = [], []
            for agent in cfg["agents"]:
                skip = cfg["exclude"].get(agent, [])
                if inst.name in skip or inst.tier in skip:
                    continue
                tracks = ["any"] if track_blind(agent) else cfg["tracks"]
                for track in tracks:
                    opts = _options(cfg, agent, track if track != "any" else "seeded")
                    folder = _folder(out, inst.name, evals, agent, track)
                    for seed in cfg["seeds"]:
                        tasks.append((agent, seed, Budget(evals=int(evals)), folder, opts))
                        keys.append((track, evals, agent))
            if finished_only:
                found = [
                    finished_run(problems[inst.name], *t, history=cfg["history"]) for t in tasks
                ]
                missing += sum(r is None for r in found)
                planned += len(found)
                if all(r is not None for r in found):
                    complete.update((inst.name, t, evals) for t in cfg["tracks"])
                keys = [k for k, r in zip(keys, found) if r is not None]
                results = [r for r in found if r is not None]
                TALLY.count(results)
            else:
                results = run_tasks(problems[inst.name], tasks, executor, history=cfg["history"])
            for (track, evals_, agent), r in zip(keys, results):
                if isinstance(r, TaskFailure):
                    failed.append(f"{inst.name} {agent} {track} e{evals_}: {r.error}")
                    continue
                for t in cfg["tracks"] if track == "any" else [track]:
                    runs.setdefault((inst.name, t, evals_, agent), []).append(r)
    if finished_only:  # an instance, track and budget is reported only when every run finished
        runs = {k: rs for k, rs in runs.items() if k[:3] in complete}
    order = {inst.name: i for i, inst in enumerate(insts)}  # tables and files instance by instance
    runs = dict(sorted(runs.items(), key=lambda kv: order[kv[0][0]]))
    for inst in insts:
        ok = [r for (n, *_), rs in runs.items() if n == inst.name for r in rs]
        if not ok and finished_only:
            continue  # nothing of this instance has run yet
        p = problems[inst.name]
        base = S.baseline_values(p)
        base_name = min(base, key=base.get)
        bound = S.lower_bound(p)
        # best known: re-verified by the reference evaluator before it is recorded
        if ok:
            top = min(ok, key=lambda r: r.result["best"])
            S.update_best_known(
                inst.name,
                top.result["best_genome"],
                f"suite {cfg['name']}: {top.agent} seed {top.seed}",
                bk_path,
                claimed=float(top.result["best"]),
            )
        known = S.load_best_known(bk_path).get(inst.name)
        optimal = known is not None and known.optimal
        ref = known.value if optimal else bound
        best_known = min(([known.value] if known else []) + [r.result["best"] for r in ok])
        refs[inst.name] = {
            "tier": inst.tier,
            "objective": inst.objective,
            "baseline": base_name,
            "baseline_value": base[base_name],
            "reference": ref,
            "reference_kind": "optimum" if optimal else "bound",
            "bound": bound,
            "best_known": best_known,
            "dimension": p.genome_length,
        }
        for (n, track, evals, agent), rs in runs.items():
            if n != inst.name:
                continue
            for r in rs:
                res = r.result
                rows.append(
                    {
                        "instance": n,
                        "tier": inst.tier,
                        "objective": inst.objective,
                        "track": track,
                        "budget": evals,
                        "agent": agent,
                        "seed": r.seed,
                        "best": res["best"],
                        "evals": res["evals"],
                        "seconds": res["seconds"],
                        "best_baseline": base_name,
                        "gain_over_baseline": 1.0 - res["best"] / base[base_name],
                        "reference_kind": refs[n]["reference_kind"],
                        "gap": res["best"] / ref - 1.0,
                        "gap_to_best_known": res["best"] / best_known - 1.0,
                        "optimal": known is not None and known.reached_by(res["best"]),
                        "evals_to_1pct": A.hitting_time(r.history, best_known * 1.01),
                    }
                )
    if not rows and finished_only:
        raise ValueError(
            f"{out}: no instance has every run finished at any budget yet: nothing to report"
        )
    if not rows:
        raise RuntimeError(f"every suite run failed; first: {failed[0] if failed else '-'}")
    write_csv(out / "results.csv", rows)
    ert_rows = _ert_rows(runs, refs)
    write_csv(out / "ert.csv", ert_rows)
    _plots(cfg, out, runs, refs)
    _export_ioh(out / "ioh", runs, refs, insts)
    md = _summary(cfg, rows, ert_rows, refs, failed, (planned - missing, planned))
    write_text_atomic(out / "summary.md", md)
    return md


def _ert_rows(runs: dict, refs: dict) -> list[dict]:
    out = []
    for (inst, track, evals, agent), rs in runs.items():
        hs = [r.history for r in rs]
        for g in ERT_GAPS:
            t = refs[inst]["best_known"] * (1 + g)
            out.append(
                {
                    "instance": inst,
                    "track": track,
                    "budget": evals,
                    "agent": agent,
                    "target_gap_to_best_known": g,
                    "ert_evals": A.ert(hs, t, "evals"),
                    "ert_seconds": A.ert(hs, t, "seconds"),
                    "successes": sum(np.isfinite(A.hitting_time(h, t)) for h in hs),
                    "runs": len(hs),
                }
            )
    return out


def _plots(cfg: dict, out: Path, runs: dict, refs: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    (out / "curves").mkdir(parents=True, exist_ok=True)
    tracks = cfg["tracks"]
    ran = {(k[0], k[2]) for k in runs}  # (instance, budget) with runs (a partial report: not all)
    for inst, ref in refs.items():
        top = max(b for b in tier_budgets(cfg, ref["tier"]) if (inst, b) in ran)
        fig, axes = plt.subplots(len(tracks), 2, figsize=(11, 3.6 * len(tracks)), squeeze=False)
        for i, track in enumerate(tracks):
            curves = {
                a: [r.history for r in runs.get((inst, track, top, a), [])] for a in cfg["agents"]
            }
            for j, key in enumerate(("evals", "seconds")):
                A.plot_curves(
                    axes[i, j],
                    curves,
                    key,
                    reference=ref["best_known"],
                    title=f"{inst}, {track}, {top} evals: gap to best known {ref['best_known']:.4g}",
                )
        axes[0, 0].legend(fontsize=7)
        A.save(fig, out / "curves" / f"{inst}.png")
    for tier in dict.fromkeys(r["tier"] for r in refs.values()):
        names = [n for n, r in refs.items() if r["tier"] == tier]
        budgets = [b for b in tier_budgets(cfg, tier) if any((n, b) in ran for n in names)]
        fig, axes = plt.subplots(
            len(tracks),
            len(budgets),
            figsize=(5.5 * len(budgets), 3.6 * len(tracks)),
            squeeze=False,
        )
        for i, track in enumerate(tracks):
            for j, evals in enumerate(budgets):
                xs = np.geomspace(1, evals, 80)
                curves = {}
                for a in cfg["agents"]:
                    per = {
                        n: [r.history for r in runs.get((n, track, evals, a), [])] for n in names
                    }
                    if any(per.values()):
                        rf = {n: refs[n]["best_known"] for n in names}
                        curves[a] = (xs, A.ecdf(per, rf, xs))
                A.plot_ecdf(
                    axes[i, j],
                    curves,
                    "evals",
                    f"{tier} ({sum((n, evals) in ran for n in names)} instances), {track}, {evals} evals: targets "
                    "best known x (1 + 1..0.001, 0)",
                )
        axes[0, 0].legend(fontsize=7)
        A.save(fig, out / f"ecdf_{tier}.png")


def _export_ioh(root: Path, runs: dict, refs: dict, insts: list) -> None:
    fid = {i.name: k + 1 for k, i in enumerate(S.INSTANCES)}
    for (inst, track, evals, agent), rs in runs.items():
        A.write_ioh(
            root / f"{agent}-{track}-e{evals}",
            f"{agent}-{track}",
            fid[inst],
            inst,
            refs[inst]["dimension"],
            [(r.history, r.result["best_genome"]) for r in rs],
            suite=f"chiplet-sched-suite-{S.SUITE_VERSION}",
            info=f"budget {evals} evaluations; objective {refs[inst]['objective']}",
        )


def _median(rows: list[dict], key: str) -> float:
    return float(np.median([r[key] for r in rows])) if rows else float("nan")


def _medians(rows: list[dict], agents: list[str], insts: list[str]) -> dict[tuple, float]:
    """Median best per (agent, instance) over ``rows`` (nan where an agent has none)."""
    return {
        (a, n): _median([r for r in rows if r["agent"] == a and r["instance"] == n], "best")
        for a in agents
        for n in insts
    }


def _head_to_head(cfg: dict, rows: list[dict]) -> list[str]:
    """Per track and budget, on how many instances of each tier each of the project's agents has
    a lower median than every outside optimizer in the run (issue 12's bar for GA and SA)."""
    outside = [a for a in cfg["agents"] if is_outside(a)]
    ours = [a for a in cfg["agents"] if not is_outside(a)]
    if not outside or not ours:
        return []
    parts = [
        "## Head to head: instances where an agent's median is below (won) or equal to (tied) "
        f"the best median of the outside optimizers ({', '.join(outside)})\n"
    ]
    table = []
    for track in cfg["tracks"]:
        for evals in cfg["budgets"]:
            sub = [r for r in rows if r["track"] == track and r["budget"] == evals]
            for tier in dict.fromkeys(r["tier"] for r in sub):
                insts = list(dict.fromkeys(r["instance"] for r in sub if r["tier"] == tier))
                med = _medians(sub, cfg["agents"], insts)
                ref = {n: [med[(b, n)] for b in outside if np.isfinite(med[(b, n)])] for n in insts}
                insts = [n for n in insts if ref[n]]  # some outside optimizer ran there
                row: dict[str, Any] = {"track": track, "budget": evals, "tier": tier}
                for a in ours:
                    won = sum(med[(a, n)] < min(ref[n]) for n in insts)
                    tied = sum(med[(a, n)] == min(ref[n]) for n in insts)
                    row[a] = f"{won} won, {tied} tied of {len(insts)}"
                table.append(row)
    parts.append(md_table(table) + "\n")
    return parts


def _summary(
    cfg: dict,
    rows: list[dict],
    ert_rows: list[dict],
    refs: dict,
    failed,
    finished: tuple[int, int] = (0, 0),
) -> str:
    """The summary; ``finished`` (done, planned) when only finished runs were reported."""
    tiers_run = {r["tier"] for r in refs.values()}
    parts = [
        f"# {cfg['name']}: suite {S.SUITE_VERSION}\n",
        f"Agents {', '.join(cfg['agents'])}; seeds {cfg['seeds']}; budgets {cfg['budgets']} "
        "evaluations"
        + "".join(
            f" ({t} tier: {b} only)" for t, b in cfg["tier_budgets"].items() if t in tiers_run
        )
        + ". Gain = 1 - best / best SCAR baseline (positive: better than every "
        "baseline); gap = best / reference - 1, the reference being the proven optimum (tiny) or "
        "the lower bound of costmodel/bounds.py (scar, large: the gap to a bound overstates the "
        "gap to the optimum). Medians over seeds, then over instances. `evals` is what the "
        "agent actually used.\n",
    ]
    if finished[0] < finished[1]:
        parts.append(
            f"**Partial report: {finished[0]} of {finished[1]} runs finished** (the others have "
            "not run yet; made with `--finished-only`). An instance is reported at a budget only "
            "when every agent's runs finished there, for every seed and track; a section, table "
            "or cell exists only where they did.\n"
        )
    tiers = list(dict.fromkeys(r["tier"] for r in rows))
    for track in cfg["tracks"]:
        for evals in cfg["budgets"]:
            if not any(r["track"] == track and r["budget"] == evals for r in rows):
                continue  # no tier runs at this budget
            parts.append(f"## {track} track, {evals} evaluations\n")
            for tier in tiers:
                sub = [
                    r
                    for r in rows
                    if r["track"] == track and r["budget"] == evals and r["tier"] == tier
                ]
                if not sub:
                    continue
                table = []
                insts = list(dict.fromkeys(r["instance"] for r in sub))
                med = _medians(sub, cfg["agents"], insts)
                for a in cfg["agents"]:
                    mine = [r for r in sub if r["agent"] == a]
                    if not mine:
                        continue
                    per_inst = [[r for r in mine if r["instance"] == n] for n in insts]
                    wins = sum(
                        med[(a, n)]
                        <= min(med[(b, n)] for b in cfg["agents"] if not np.isnan(med[(b, n)]))
                        for n in insts
                    )
                    row = {
                        "agent": a,
                        "median gain over baseline": float(
                            np.median([_median(x, "gain_over_baseline") for x in per_inst if x])
                        ),
                        "median gap": float(np.median([_median(x, "gap") for x in per_inst if x])),
                        "best median (instances)": f"{wins} of {len(insts)}",
                        "median evals used": int(_median(mine, "evals")),
                    }
                    if tier == "tiny":
                        row["runs at optimum"] = f"{sum(r['optimal'] for r in mine)} of {len(mine)}"
                    table.append(row)
                ref = "optimum" if tier == "tiny" else "bound"
                parts.append(f"### tier {tier} ({len(insts)} instances, gap to {ref})\n")
                parts.append(md_table(table) + "\n")
    parts += _head_to_head(cfg, rows)
    for budget in sorted(cfg["budgets"]):
        table = []
        for n, ref in refs.items():
            if budget not in tier_budgets(cfg, ref["tier"]):
                continue
            row: dict[str, Any] = {
                "instance": n,
                "objective": ref["objective"],
                "best baseline": f"{ref['baseline']} {ref['baseline_value']:.4g}",
                "reference": f"{ref['reference_kind']} {ref['reference']:.4g}",
                "best known": ref["best_known"],
            }
            for track in cfg["tracks"]:
                for a in cfg["agents"]:
                    sub = [
                        r
                        for r in rows
                        if r["instance"] == n
                        and r["track"] == track
                        and r["agent"] == a
                        and r["budget"] == budget
                    ]
                    if sub:
                        row[f"{a} {track[0]}"] = _median(sub, "best")
            table.append(row)
        if not table:
            continue
        parts.append(f"## Per instance, {budget} evaluations: median best per agent and track\n")
        parts.append("Columns `<agent> u` / `<agent> s`: unseeded / seeded track.\n")
        parts.append(md_table(table) + "\n")
    if cfg["exclude"]:
        parts.append(
            "Excluded: "
            + "; ".join(f"{a} on {', '.join(x)}" for a, x in cfg["exclude"].items())
            + ".\n"
        )
    if failed:
        parts.append("## Failed runs\n\n" + "\n".join(f"- {f}" for f in failed) + "\n")
    return "\n".join(parts)
