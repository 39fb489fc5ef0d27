"""What both environments share: building the problem from keyword arguments, the fixed reward
normalizer, and the physical figures reported in ``info`` at the end of an episode."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from costmodel import BatchResult, Problem, mcm, scenario
from costmodel.targets import target_report

DEFAULTS = {"scenario": "sc1", "pattern": "het-sides", "rows": 3, "cols": 3, "objective": "edp"}

#: Random genomes averaged for the reward normalizer, and the seed they are drawn with.
REFERENCE_SAMPLES = 64
REFERENCE_SEED = 0


def _check_int(field: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{field} must be a positive integer, got {value!r}")
    return int(value)


def build_problem(
    problem: Problem | None = None,
    scenario_name: str | None = None,
    pattern: str | None = None,
    rows: int | None = None,
    cols: int | None = None,
    objective: str | Callable | None = None,
    max_windows: int | None = None,
) -> Problem:
    """The problem an environment works on: ``problem`` as given, or one built from the other
    arguments (defaults in :data:`DEFAULTS`). Mixing both is ambiguous, so it is refused."""
    named = {
        "scenario": scenario_name,
        "pattern": pattern,
        "rows": rows,
        "cols": cols,
        "objective": objective,
        "max_windows": max_windows,
    }
    if problem is not None:
        if not isinstance(problem, Problem):
            raise ValueError(f"problem must be a costmodel.Problem, got {type(problem).__name__}")
        given = [k for k, v in named.items() if v is not None]
        if given:
            raise ValueError(f"pass either problem= or {', '.join(given)}=, not both")
        return problem
    # mixed value types, each checked below (the objective by Problem itself)
    args: dict[str, Any] = {k: (DEFAULTS[k] if named[k] is None else named[k]) for k in DEFAULTS}
    if not isinstance(args["scenario"], str):
        raise ValueError(f"scenario must be a scenario name, got {args['scenario']!r}")
    if not isinstance(args["pattern"], str):
        raise ValueError(f"pattern must be a pattern name, got {args['pattern']!r}")
    r, c = _check_int("rows", args["rows"]), _check_int("cols", args["cols"])
    if max_windows is not None:
        _check_int("max_windows", max_windows)
    return Problem(
        scenario(args["scenario"]),
        mcm(args["pattern"], r, c),
        objective=args["objective"],
        max_windows=max_windows,
    )


def reference_objective(p: Problem) -> float:
    """Fixed reward normalizer: the mean objective of ``p.sample(64, seed=0)``, i.e. of 64
    random valid genomes. A reward of -1 means "as good as an average random schedule"; the
    value depends only on the problem, so rewards compare across runs and agents. For the target
    objectives it is the mean energy (``targets-met``, ``energy@targets``) or EDP, without the
    penalty. Falls back to
    the mean's magnitude, or 1.0, should a user objective make it non-positive or not finite."""
    g = p.sample(REFERENCE_SAMPLES, seed=REFERENCE_SEED)
    if p.needs_model_latency:  # the target objectives: the mean energy (or EDP), unpenalized
        f = p.penalized_objective(p.evaluate_batch(g, detail=False, models=True), weight=0.0)
    else:
        f = p.fitness(g)
    ref = float(np.mean(f))
    if np.isfinite(ref) and ref > 0:
        return ref
    ref = abs(ref)
    return ref if np.isfinite(ref) and ref > 0 else 1.0


#: A batch evaluator an environment may be given: genomes ``[P, G]`` -> :class:`BatchResult`
#: (e.g. a search's counting evaluator); ``None`` means ``problem.evaluate_batch``.
BatchEvaluatorFn = Callable[[np.ndarray], BatchResult]


def evaluate_genome(
    p: Problem, genome: np.ndarray, reference: float, evaluator: BatchEvaluatorFn | None = None
) -> tuple[float, dict]:
    """The final reward ``-objective / reference`` and the physical figures of one genome, via
    ``evaluator`` (default ``p.evaluate_batch``, the exact evaluator every agent uses). For the
    target objectives the reward is the penalty form ``-x (1 + w V) / reference``
    (:meth:`costmodel.problem.Problem.penalized_objective`, weight
    :data:`costmodel.targets.PENALTY_WEIGHT`), ``info`` adds each model's latency against its
    target, and ``objective`` stays the feasibility-first fitness the agents minimize."""
    rewards, infos = evaluate_genomes(p, np.asarray(genome)[None, :], reference, evaluator)
    return float(rewards[0]), infos[0]


def evaluate_genomes(
    p: Problem, genomes: np.ndarray, reference: float, evaluator: BatchEvaluatorFn | None = None
) -> tuple[np.ndarray, list[dict]]:
    """:func:`evaluate_genome` for ``[P, G]`` genomes in one evaluator call (why: one batch is
    far cheaper than ``P`` calls). An evaluator may return fewer rows than asked (a counting
    evaluator whose budget runs out): then only those first rows get a reward and an ``info``."""
    g = np.atleast_2d(np.asarray(genomes, dtype=np.int64))
    r = (evaluator or p.evaluate_batch)(g)
    obj = np.asarray(p.objective_of(r), dtype=np.float64)
    reward_obj = np.asarray(p.penalized_objective(r)) if p.needs_model_latency else obj
    names = [m.name for m in p.workload.models]
    infos = []
    for i in range(len(obj)):
        info = {
            "latency_s": float(r.latency_s[i]),
            "energy_j": float(r.energy_j[i]),
            "edp": float(r.edp[i]),
            "throughput": float(r.throughput[i]),
            "objective": float(obj[i]),
            "reference": reference,
            "genome": g[i].copy(),
        }
        if p.needs_model_latency:
            info["model_latency"] = target_report(names, p.workload.targets, r.model_latency_s[i])
            info["penalized_objective"] = float(reward_obj[i])
        infos.append(info)
    return -reward_obj / reference, infos
