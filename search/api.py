"""``search.run(problem, algorithm, budget, seed, log_dir)``: one entry point for every agent."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from costmodel import Problem
from costmodel.files import write_json_atomic
from costmodel.spec import fingerprint, problem_fingerprint, problem_spec

from .base import Algorithm, Budget, BudgetExhausted, Evaluator, SearchResult
from .executors import EXECUTORS, SerialExecutor, make_executor
from .registry import make_agent


def run(
    problem: Problem,
    algorithm: str | Algorithm,
    budget: Budget | None = None,
    seed: int = 0,
    log_dir: str | Path | None = None,
    executor: str | SerialExecutor | None = None,
    progress: Callable[[int, float], None] | None = None,
    history: str = "calls",
    **options: Any,
) -> SearchResult:
    """Search ``problem`` with ``algorithm`` (a name from :data:`search.AGENTS` or an instance)
    under ``budget``; deterministic for a given seed. Writes ``history.jsonl`` and then
    ``result.json`` to ``log_dir`` when given, each whole (atomically); ``result.json`` names
    its problem (:func:`costmodel.spec.problem_spec`) and carries the :func:`run_hash` of the
    run's resolved config. ``progress(evals, best)``, when given, is called after every batch
    the agent evaluates (e.g. :class:`experiments.progress.RunProgress`). ``history``: what
    the history keeps, every call or the improving ones (:data:`search.base.HISTORY_MODES`).
    ``executor`` (where
    population chunks are evaluated) is an executor object or a name from
    :data:`search.executors.EXECUTORS`, started for this run and closed after it."""
    if budget is None:
        raise ValueError("run needs a budget, e.g. Budget(evals=2000)")
    if not isinstance(budget, Budget):
        raise ValueError(f"budget must be a search.Budget, got {type(budget).__name__}")
    if isinstance(executor, str):  # a name: this run starts that executor and closes it after
        with make_executor(executor) as ex:  # ValueError naming the choices for an unknown name
            return run(problem, algorithm, budget, seed, log_dir, ex, progress, history, **options)
    if executor is not None and not callable(getattr(executor, "map", None)):
        raise ValueError(
            f"executor must be a name ({', '.join(EXECUTORS)}) or an executor object "
            f"(search.executors.make_executor), got {type(executor).__name__}"
        )
    agent = make_agent(algorithm, **options) if isinstance(algorithm, str) else algorithm
    if options and not isinstance(algorithm, str):
        raise ValueError("pass options to the agent's constructor, not to run()")
    rng = np.random.default_rng(seed)
    key = run_hash(problem, agent, budget, seed) if log_dir is not None else None  # before search
    # the evaluator opens history.jsonl's temporary file: made inside the try, so that a Ctrl-C
    # at any point after it exists still removes it
    ev: Evaluator | None = None
    ok = False
    try:
        ev = Evaluator(
            problem,
            budget,
            log_dir,
            executor=executor,
            chunks=getattr(executor, "workers", 2) or 2,
            progress=progress,
            history=history,
        )
        agent.search(problem, ev, rng)
        ok = True
    except BudgetExhausted:
        ok = True
    finally:
        if ev is not None:
            ev.close(ok)
    assert ev is not None  # the try either made it or raised
    if ev.best_genome is None:
        raise ValueError(f"agent {agent.name!r} evaluated no schedule within the budget")
    schedule = problem.decode(ev.best_genome)
    r = problem.evaluate(schedule)
    metrics = {
        "latency_s": r.latency_s,
        "energy_j": r.energy_j,
        "edp": r.edp,
        "throughput": r.throughput,
        **{f"energy_{k}_j": v for k, v in r.energy_breakdown_j.items()},
    }
    extra = agent.extra_result()
    result = SearchResult(
        agent.name,
        seed,
        ev.best_genome,
        schedule,
        ev.best_fitness,
        metrics,
        ev.history,
        ev.n_evals,
        ev.seconds,
        extra.pop("pareto", []),
        extra,
    )
    if log_dir is not None:
        out = {
            **result.summary(),
            "run_hash": key,
            "history": history,  # what history.jsonl keeps (a reuse asking for every call checks)
            "problem": problem_spec(problem),
            "config": _jsonable(agent.config),
            "best_genome": ev.best_genome.tolist(),
            "schedule": schedule.to_dict(),
            "model_latency": r.model_targets,  # each model's latency against its target
            "pareto": _jsonable(result.pareto),
            "extra": _jsonable(extra),
        }
        write_json_atomic(Path(log_dir) / "result.json", out)
    return result


#: bumped when result.json's meaning changes, so older runs are recomputed rather than reused
RESULT_FORMAT = 2


def run_hash(problem: Problem, agent: Algorithm, budget: Budget, seed: int) -> str:
    """Hash of a run's resolved config: the problem (:func:`costmodel.spec.describe_problem`),
    the agent with all its options (defaults included), its code :attr:`Algorithm.revision`
    and :meth:`Algorithm.hash_inputs` (e.g. the digest of weights it loads), the budget and the
    seed. Two runs with the same hash compute the same thing; a finished run is reused only
    under its own hash."""
    payload = {
        "format": RESULT_FORMAT,
        "problem": problem_fingerprint(problem),
        "agent": agent.name,
        "options": _jsonable(agent.config),
        "budget": {"evals": budget.evals, "seconds": budget.seconds},
        "seed": int(seed),
    }
    if agent.revision:  # absent at 0, so runs made before revisions existed keep their hash
        payload["revision"] = int(agent.revision)
    inputs = agent.hash_inputs()
    if inputs:  # absent otherwise, so other agents' hashes are what they were
        payload["inputs"] = _jsonable(inputs)
    return fingerprint(payload)


def _jsonable(x):
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, np.generic):
        return x.item()
    return x
