"""What both environments share: building the problem from keyword arguments, the fixed reward
normalizer, and the physical figures reported in ``info`` at the end of an episode."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from costmodel import BatchResult, Problem, mcm, scenario

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
    args = {k: (DEFAULTS[k] if named[k] is None else named[k]) for k in DEFAULTS}
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
    value depends only on the problem, so rewards compare across runs and agents. Falls back to
    the mean's magnitude, or 1.0, should a user objective make it non-positive or not finite."""
    f = p.fitness(p.sample(REFERENCE_SAMPLES, seed=REFERENCE_SEED))
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
    ``evaluator`` (default ``p.evaluate_batch``, the exact evaluator every agent uses)."""
    g = np.asarray(genome, dtype=np.int64)
    r = (evaluator or p.evaluate_batch)(g[None, :])
    obj = float(p.objective_of(r)[0])
    info = {
        "latency_s": float(r.latency_s[0]),
        "energy_j": float(r.energy_j[0]),
        "edp": float(r.edp[0]),
        "throughput": float(r.throughput[0]),
        "objective": obj,
        "reference": reference,
        "genome": g.copy(),
    }
    return -obj / reference, info
