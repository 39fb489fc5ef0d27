"""SCAR's baseline schedules, built as ordinary schedules for the same evaluator.

- ``standalone``: each model whole on its own chiplet (round robin when models outnumber the
  chiplets), one window, the whole batch at once: no pipelining.
- ``simba``: each model pipelined over its own group of adjacent chiplets of one dataflow (chiplets
  shared out in proportion to the models' MACs, at least one each), its layer chain cut into
  stages of balanced compute time, micro-batch 1 (the deepest pipelining).
- ``sequential``: the models one after the other, each in its own window on chiplet 0 with its
  whole batch: the monolithic chip's schedule (use it on :func:`costmodel.monolithic`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np

from .schedule import Schedule


def _chiplets_of(problem, dataflow: str | None) -> list[int]:
    mcm = problem.mcm
    ids = [
        i
        for i in range(mcm.n_chiplets)
        if dataflow is None or mcm.chiplet_class(i).dataflow == dataflow
    ]
    if not ids:
        have = sorted({c.dataflow for c in mcm.classes})
        raise ValueError(f"the MCM has no {dataflow!r} chiplet; dataflows present: {have}")
    return ids


def _snake(problem, ids: list[int]) -> list[int]:
    """Chiplets in boustrophedon order, so that neighbours in the list are neighbours on the mesh
    wherever the set allows."""
    cols = problem.mcm.cols
    return sorted(ids, key=lambda i: (i // cols, i % cols if (i // cols) % 2 == 0 else -(i % cols)))


def standalone(problem, dataflow: str | None = None) -> Schedule:
    ids = _snake(problem, _chiplets_of(problem, dataflow))
    models = problem.workload.models
    return Schedule(
        window=[[0] * len(m) for m in models],
        chiplet=[[ids[i % len(ids)]] * len(m) for i, m in enumerate(models)],
        micro_batch=[{0: m.batch} for m in models],
    )


def _balanced_cuts(times: np.ndarray, k: int) -> list[int]:
    """Stage index of each layer so that k contiguous stages have roughly equal time."""
    k = max(1, min(k, len(times)))
    cum = np.cumsum(times) / max(times.sum(), 1e-30)
    stage = np.minimum((cum * k - 1e-12).astype(int), k - 1)
    stage = np.maximum.accumulate(np.clip(stage, 0, k - 1))
    return stage.tolist()


def simba(problem, dataflow: str = "ws") -> Schedule:
    ids = _snake(problem, _chiplets_of(problem, dataflow))
    models = problem.workload.models
    macs = np.array([m.macs() for m in models], dtype=np.float64)
    n = len(ids)
    if n < len(models):  # not enough chiplets: one each, shared round robin
        share = np.ones(len(models), dtype=int)
    else:
        share = np.maximum(1, np.floor(macs / macs.sum() * n).astype(int))
        while share.sum() > n:
            share[np.argmax(share)] -= 1
        while share.sum() < n:
            share[np.argmax(macs / share)] += 1
    cls = problem.mcm.placement[ids[0]]
    chiplet, start = [], 0
    for m, _mod in enumerate(models):
        group = [ids[(start + j) % n] for j in range(share[m])]
        start += share[m]
        times = problem.table.model(m, 1).latency_s[:, cls]
        stages = _balanced_cuts(times, len(group))
        chiplet.append([group[s] for s in stages])
    return Schedule(
        window=[[0] * len(m) for m in models], chiplet=chiplet, micro_batch=[{0: 1} for _ in models]
    )


def sequential(problem) -> Schedule:
    models = problem.workload.models
    if problem.max_windows < len(models):
        raise ValueError(
            f"sequential needs max_windows >= {len(models)} (one per model), "
            f"got {problem.max_windows}"
        )
    return Schedule(
        window=[[m] * len(mod) for m, mod in enumerate(models)],
        chiplet=[[0] * len(mod) for mod in models],
        micro_batch=[{m: mod.batch} for m, mod in enumerate(models)],
    )


# (problem) or (problem, dataflow) -> Schedule
BASELINES: dict[str, Callable[..., Schedule]] = {
    "standalone": standalone,
    "simba": simba,
    "sequential": sequential,
}


def baseline_names(dataflows: tuple[str, ...] | None = None) -> tuple[str, ...]:
    """Every baseline name: ``standalone-<df>`` and ``simba-<df>`` per dataflow, ``sequential``."""
    from .hardware import DATAFLOWS

    dfs = DATAFLOWS if dataflows is None else dataflows
    return (
        *(f"standalone-{d}" for d in dfs),
        *(f"simba-{d}" for d in dfs),
        "sequential",
    )


def problem_baseline_names(problem, sequential: bool = True) -> list[str]:
    """The baselines for the dataflows on ``problem``'s MCM, dataflow by dataflow (standalone,
    then Simba-like), then ``sequential`` (the order of the seeded first population and of
    every baseline table)."""
    dfs = sorted({c.dataflow for c in problem.mcm.classes})
    names = [f"{kind}-{df}" for df in dfs for kind in ("standalone", "simba")]
    return names + ["sequential"] if sequential else names


def baseline_schedule(problem, name: str) -> Schedule:
    """The schedule of baseline ``name`` (see :func:`baseline_names`) for ``problem``;
    ``ValueError`` for an unknown name or a dataflow the MCM lacks."""
    if name not in baseline_names():
        raise ValueError(f"unknown baseline {name!r}; choices: {', '.join(baseline_names())}")
    kind, _, df = name.partition("-")
    return BASELINES[kind](problem, df) if df else BASELINES[kind](problem)


def baseline_genomes(problem, names: Iterable[str] | None = None) -> dict[str, np.ndarray]:
    """Genome of each baseline in ``names`` (default: every baseline for the dataflows on the
    problem's MCM, in :func:`baseline_names` order) that can be built and encoded on
    ``problem``; a baseline that cannot (``ValueError``, e.g. sequential with fewer windows than
    models) is left out."""
    if names is None:
        names = baseline_names(tuple(sorted({c.dataflow for c in problem.mcm.classes})))
    out = {}
    for name in names:
        try:
            out[name] = problem.encode(baseline_schedule(problem, name))
        except ValueError:
            continue
    return out
