"""A versioned suite of schedule-search instances in three tiers, and its best-known values.

Tiers:

``tiny``
    small enough that ``exhaustive`` proves the optimum in about a second each (at most ~400,000
    canonical schedules): two and three models of 2-3 layers on 1x2 to 2x3 meshes, every
    objective. Their optima are in ``best_known.json`` with ``source: exhaustive``;
    ``tests/test_suite.py`` proves them again in CI.
``scar``
    SCAR's scenarios sc1-sc5 (and AR/VR sc8 on 256-PE chiplets) on 2x2 to 6x6 meshes; the
    reference for the gap is the lower bound of :mod:`costmodel.bounds`.
``large``
    sc5 replicated to 10 and 20 models on 8x8 to 16x16 meshes; gap to the same bound.

The instances are data (a workload and an MCM spec in the YAML form of
:mod:`costmodel.config`); :data:`SUITE_VERSION` changes whenever an instance changes, so results
of different versions are never compared. :func:`update_best_known` accepts a schedule only
after re-evaluating its genome with the reference evaluator (:mod:`costmodel.evaluate`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from costmodel import Problem, baseline_schedule, problem_baseline_names
from costmodel.bounds import objective_bound
from costmodel.config import load_mcm, load_workload
from costmodel.files import write_json_atomic

#: bumped whenever an instance changes (its problem, objective or max_windows)
SUITE_VERSION = "2026.12-1"
TIERS = ("tiny", "scar", "large")
#: unseeded: agents start from their own random or constructive starts (``seed_baselines`` off);
#: seeded: the SCAR baselines may enter the first population
TRACKS = ("unseeded", "seeded")
BEST_KNOWN = Path(__file__).with_name("best_known.json")

# --- tiny models (the layers of search.exact.small_instance and two cut-down relatives) -----
_CNN = [
    {"name": "stem", "kind": "conv", "K": 64, "C": 3, "R": 7, "Yo": 64, "stride": 2},
    {"name": "conv2", "kind": "conv", "K": 64, "C": 64, "R": 3, "Yo": 32, "stride": 2},
    {"name": "conv3", "kind": "conv", "K": 128, "C": 64, "R": 3, "Yo": 16, "stride": 2},
]
_TF = [
    {"name": "qkv", "kind": "gemm", "M": 128, "N": 768, "K": 256},
    {"name": "fc1", "kind": "gemm", "M": 128, "N": 1024, "K": 256},
    {"name": "fc2", "kind": "gemm", "M": 128, "N": 256, "K": 1024},
]
_MLP = [
    {"name": "up", "kind": "gemm", "M": 64, "N": 2048, "K": 512},
    {"name": "down", "kind": "gemm", "M": 64, "N": 512, "K": 2048},
]


def _m(name: str, layers: list[dict], batch: int) -> dict:
    return {"name": name, "batch": batch, "layers": layers}


def _sc(name: str) -> dict:
    return {"scenario": name}


def _grid(*rows: str, pes: int | None = None) -> dict:
    d: dict[str, Any] = {"grid": list(rows)}
    if pes:
        d["pes"] = pes
    return d


def _pat(pattern: str, rows: int, cols: int, pes: int | None = None) -> dict:
    d: dict[str, Any] = {"pattern": pattern, "rows": rows, "cols": cols}
    if pes:
        d["pes"] = pes
    return d


@dataclass(frozen=True)
class Instance:
    """One benchmark instance: a workload spec, an MCM spec (:mod:`costmodel.config` forms),
    an objective and the window limit."""

    name: str
    tier: str
    workload: Mapping[str, Any]
    mcm: Mapping[str, Any]
    objective: str
    max_windows: int | None = None
    note: str = ""

    def problem(self) -> Problem:
        wl = load_workload({**self.workload, "name": self.name}, f"instance {self.name}")
        return Problem(wl, load_mcm(self.mcm), self.objective, max_windows=self.max_windows)

    def describe(self) -> str:
        mesh = (
            "x".join(str(self.mcm[k]) for k in ("rows", "cols"))
            if "rows" in self.mcm
            else f"{len(self.mcm['grid'])}x{len(self.mcm['grid'][0])}"
        )
        pattern = self.mcm.get("pattern") or "grid " + "/".join(self.mcm["grid"])
        if "scenario" in self.workload:
            wl = self.workload["scenario"]
        else:
            wl = "+".join(f"{m['name']} b{m['batch']}" for m in self.workload["models"])
        return f"{self.name} [{self.tier}] {wl} on {mesh} {pattern}, {self.objective}"


_T = "tiny"
INSTANCES: tuple[Instance, ...] = (
    # --- tiny: exhaustive optima (counts of canonical schedules in the notes) ---------------
    Instance(
        "t-2x2-sides-edp",
        _T,
        {"models": [_m("cnn", _CNN, 2), _m("tf", _TF[:2], 2)]},
        _pat("het-sides", 2, 2),
        "edp",
        2,
        "98,304 schedules",
    ),
    Instance(
        "t-1x3-wow-latency-3m",
        _T,
        {"models": [_m("cnn", _CNN[:2], 1), _m("tf", _TF[:2], 1), _m("mlp", _MLP, 2)]},
        _grid("WOW"),
        "latency",
        2,
        "52,488 schedules; three models",
    ),
    Instance(
        "t-2x3-sides-edp",
        _T,
        {"models": [_m("cnn", _CNN[:2], 2), _m("tf", _TF[1:], 2)]},
        _pat("het-sides", 2, 3),
        "edp",
        2,
        "82,944 schedules",
    ),
    Instance(
        "t-2x3-checker-latency",
        _T,
        {"models": [_m("cnn", _CNN[:2], 1), _m("tf", _TF[:2], 2)]},
        _pat("het-checkerboard", 2, 3),
        "latency",
        2,
        "31,104 schedules",
    ),
    Instance(
        "t-1x4-checker-energy",
        _T,
        {"models": [_m("cnn", _CNN, 2), _m("tf", _TF[:2], 2)]},
        _pat("het-checkerboard", 1, 4),
        "energy",
        2,
        "98,304 schedules",
    ),
    Instance(
        "t-2x2-checker-throughput",
        _T,
        {"models": [_m("cnn", _CNN[:2], 4), _m("tf", _TF[:2], 2)]},
        _pat("het-checkerboard", 2, 2),
        "throughput",
        2,
        "30,720 schedules",
    ),
    Instance(
        "t-1x2-sides-edp-3m",
        _T,
        {"models": [_m("cnn", _CNN[:2], 2), _m("tf", _TF[:2], 2), _m("mlp", _MLP, 1)]},
        _pat("het-sides", 1, 2),
        "edp",
        3,
        "124,416 schedules; three models, three windows",
    ),
    # --- scar: SCAR's scenarios on SCAR-sized meshes ------------------------------------------
    Instance("s-sc1-3x3-sides-edp", "scar", _sc("sc1"), _pat("het-sides", 3, 3), "edp"),
    Instance(
        "s-sc2-6x6-checker-edp",
        "scar",
        _sc("sc2"),
        _pat("het-checkerboard", 6, 6),
        "edp",
        note="held out: GA gained 1.8% over the best baseline here (issue 12)",
    ),
    Instance(
        "s-sc2-6x6-checker-latency", "scar", _sc("sc2"), _pat("het-checkerboard", 6, 6), "latency"
    ),
    Instance(
        "s-sc3-2x2-homo-ws-edp",
        "scar",
        _sc("sc3"),
        _pat("homo-ws", 2, 2),
        "edp",
        note="held out: random sampling 6-10% behind GA (issue 12)",
    ),
    Instance("s-sc4-3x3-sides-edp", "scar", _sc("sc4"), _pat("het-sides", 3, 3), "edp"),
    Instance("s-sc4-3x3-cross-energy", "scar", _sc("sc4"), _pat("het-cross", 3, 3), "energy"),
    Instance("s-sc5-3x3-cross-edp", "scar", _sc("sc5"), _pat("het-cross", 3, 3), "edp"),
    Instance(
        "s-sc5-6x6-sides-throughput", "scar", _sc("sc5"), _pat("het-sides", 6, 6), "throughput"
    ),
    Instance(
        "s-sc8-3x3-sides-edp-arvr", "scar", _sc("sc8"), _pat("het-sides", 3, 3, pes=256), "edp"
    ),
    # --- large: up to 20 models on up to 16x16 ----------------------------------------------
    Instance("l-sc5x2-8x8-sides-edp", "large", _sc("sc5x2"), _pat("het-sides", 8, 8), "edp"),
    Instance(
        "l-sc5x2-12x12-cross-throughput",
        "large",
        _sc("sc5x2"),
        _pat("het-cross", 12, 12),
        "throughput",
    ),
    Instance("l-sc5x4-16x16-sides-edp", "large", _sc("sc5x4"), _pat("het-sides", 16, 16), "edp"),
    Instance(
        "l-sc5x4-16x16-checker-latency",
        "large",
        _sc("sc5x4"),
        _pat("het-checkerboard", 16, 16),
        "latency",
    ),
)
_BY_NAME = {i.name: i for i in INSTANCES}


def instance(name: str) -> Instance:
    """The instance called ``name`` (``ValueError`` naming the choices)."""
    if name not in _BY_NAME:
        raise ValueError(f"unknown instance {name!r}; choices: {', '.join(_BY_NAME)}")
    return _BY_NAME[name]


def select(tiers: list[str] | None = None, names: list[str] | None = None) -> list[Instance]:
    """Instances of the given tiers plus the named ones, in suite order (all when both are
    ``None``); ``ValueError`` naming the choices for an unknown tier or name."""
    for t in tiers or []:
        if t not in TIERS:
            raise ValueError(f"unknown tier {t!r}; choices: {', '.join(TIERS)}")
    wanted = {instance(n).name for n in names or []}
    if tiers is None and names is None:
        return list(INSTANCES)
    return [i for i in INSTANCES if i.tier in (tiers or []) or i.name in wanted]


def check_track(track: str) -> str:
    if track not in TRACKS:
        raise ValueError(f"unknown track {track!r}; choices: {', '.join(TRACKS)}")
    return track


def list_lines() -> list[str]:
    """One line per instance, for ``chiplet-sched list``."""
    return [f"suite {SUITE_VERSION}: tracks {', '.join(TRACKS)}"] + [
        "  " + i.describe() for i in INSTANCES
    ]


# --- references: baselines, bound, optimum ----------------------------------------------------
def baseline_values(problem: Problem) -> dict[str, float]:
    """The objective (minimized fitness) of every SCAR baseline valid on ``problem``:
    ``standalone-<df>`` and ``simba-<df>`` for each dataflow on the mesh, and ``sequential``
    when the problem allows one window per model; reference evaluator."""
    out: dict[str, float] = {}
    for name in problem_baseline_names(problem):
        try:
            schedule = baseline_schedule(problem, name)
        except ValueError:  # sequential with fewer windows than models
            continue
        out[name] = reference_value(problem, schedule)
    return out


def reference_value(problem: Problem, schedule) -> float:
    """A schedule's objective from the reference evaluator (:mod:`costmodel.evaluate`)."""
    return float(problem.objective_of(problem.evaluate(schedule)))


def genome_value(problem: Problem, genome) -> float:
    """A genome's objective from the reference evaluator (``ValueError`` if it is invalid)."""
    return reference_value(problem, problem.decode(np.asarray(genome, dtype=np.int64)))


def lower_bound(problem: Problem) -> float:
    return objective_bound(problem)


# --- best-known values --------------------------------------------------------------------------
@dataclass
class BestKnown:
    """One instance's best known schedule: its value (reference evaluator), genome, where it
    came from and whether it is a proven optimum."""

    value: float
    genome: list[int]
    source: str
    optimal: bool = False
    objective: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def reached_by(self, value: float) -> bool:
        """Whether an agent's best ``value`` is this proven optimum: agents' batch evaluators
        and the reference evaluator that recorded it agree to float rounding, hence the 1e-9."""
        return self.optimal and value <= self.value * (1 + 1e-9)


def load_best_known(path: str | Path = BEST_KNOWN) -> dict[str, BestKnown]:
    """The best-known file of the current suite version (empty if missing or of another
    version: values of another suite version do not apply)."""
    p = Path(path)
    if not p.is_file():
        return {}
    data = json.loads(p.read_text())
    if data.get("version") != SUITE_VERSION:
        return {}
    return {k: BestKnown(**v) for k, v in data.get("instances", {}).items()}


def save_best_known(entries: Mapping[str, BestKnown], path: str | Path = BEST_KNOWN) -> None:
    data = {
        "version": SUITE_VERSION,
        "note": "value = the genome's objective under costmodel/evaluate.py (minimized fitness; "
        "throughput: seconds per inference); written only by search.suite.update_best_known",
        "instances": {k: entries[k].__dict__ for k in sorted(entries)},
    }
    write_json_atomic(path, data, indent=1)


def update_best_known(
    name: str,
    genome,
    source: str,
    path: str | Path = BEST_KNOWN,
    optimal: bool = False,
    claimed: float | None = None,
    rel_tol: float = 1e-9,
) -> bool:
    """Record ``genome`` for instance ``name`` if it beats the best known, after re-evaluating
    it with the reference evaluator; ``claimed`` (the value the search reported) must agree
    with it to ``rel_tol``, else ``ValueError``. Returns whether the file changed."""
    inst = instance(name)
    p = inst.problem()
    value = genome_value(p, genome)
    if claimed is not None and not np.isclose(value, claimed, rtol=rel_tol, atol=0.0):
        raise ValueError(
            f"best-known update for {name}: the search claimed {claimed!r} but the reference "
            f"evaluator gives {value!r}; not recorded"
        )
    entries = load_best_known(path)
    cur = entries.get(name)
    if cur is not None and not (value < cur.value or (optimal and not cur.optimal)):
        return False
    entries[name] = BestKnown(
        value=value,
        genome=[int(x) for x in np.asarray(genome).tolist()],
        source=source,
        optimal=optimal,
        objective=inst.objective,
    )
    save_best_known(entries, path)
    return True


def prove_tiny(name: str) -> tuple[np.ndarray, float]:
    """The exhaustive optimum of a tiny instance (``ValueError`` for another tier)."""
    inst = instance(name)
    if inst.tier != "tiny":
        raise ValueError(f"instance {name!r} is in tier {inst.tier!r}; only tiny ones are proven")
    from .exact import optimum

    return optimum(inst.problem())


def main() -> None:  # pragma: no cover - maintenance: python -m search.suite
    """Prove every tiny instance's optimum and record it (re-verified) in best_known.json."""
    for inst in select(["tiny"]):
        g, f = prove_tiny(inst.name)
        changed = update_best_known(inst.name, g, "exhaustive", optimal=True, claimed=f)
        print(f"{inst.name}: optimum {f:.6g}{' (recorded)' if changed else ''}")


if __name__ == "__main__":  # pragma: no cover
    main()
