"""The one search interface: a budget, a counting evaluator with fitness-curve logging, agents.

Every agent sees the problem only through :class:`Evaluator`, which evaluates whole populations
with the problem's batch evaluator, counts every schedule it evaluates against the budget (the
same way for every agent), keeps the best found, and appends one JSON line per call to the
history (``history.jsonl`` in ``log_dir``), or with ``history="improvements"`` one line per call
that improved the best so far plus the last call (IOHprofiler's "improvement only" logging: every
best-so-far curve, hitting time and IOH file reads the same off it, and an agent that asks for
one schedule at a time writes kilobytes instead of one line per evaluation). The history is streamed to a hidden temporary file
beside it, flushed as it goes (a crash keeps the curve there), and moved onto ``history.jsonl``
whole when the search ends (:class:`costmodel.files.AtomicFile`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from costmodel import Problem, Schedule
from costmodel.files import AtomicFile


class BudgetExhausted(Exception):
    """Raised by :class:`Evaluator` when an agent asks for more than the budget allows."""


@dataclass(frozen=True)
class Budget:
    """Schedule evaluations and/or wall-clock seconds; the search stops at whichever ends first."""

    evals: int | None = None
    seconds: float | None = None

    def __post_init__(self) -> None:
        if self.evals is None and self.seconds is None:
            raise ValueError("budget needs evals and/or seconds")
        if self.evals is not None and (
            isinstance(self.evals, bool)
            or not isinstance(self.evals, (int, np.integer))
            or self.evals <= 0
        ):
            raise ValueError(f"budget evals must be a positive integer, got {self.evals!r}")
        if self.seconds is not None and not self.seconds > 0:
            raise ValueError(f"budget seconds must be positive, got {self.seconds!r}")


#: what the history keeps: every evaluator call, or the calls that improved the best (and the last)
HISTORY_MODES = ("calls", "improvements")


class Evaluator:
    """Counts, evaluates and logs: the only door from an agent to the problem.

    ``ev(genomes)`` returns the fitness ``[P]`` (minimized) of the rows it could afford: when the
    budget has fewer evaluations left than rows, only the first rows are evaluated and returned
    (a shorter array); when nothing is left it raises :class:`BudgetExhausted`.
    """

    def __init__(
        self,
        problem: Problem,
        budget: Budget,
        log_dir: str | Path | None = None,
        executor=None,
        chunks: int = 2,
        progress: Callable[[int, float], None] | None = None,
        history: str = "calls",
    ) -> None:
        if history not in HISTORY_MODES:
            raise ValueError(f"unknown history {history!r}; choices: {', '.join(HISTORY_MODES)}")
        self.problem, self.budget = problem, budget
        self.history_mode = history
        # improvements mode: the latest call's record while it is not written (the last call's
        # record is written when the search ends, so the history ends at the evaluations used)
        self._pending: dict | None = None
        # told (evaluations so far, best so far) after every call, e.g. a progress display
        self.progress = progress
        # a parallel executor evaluates populations in ``chunks`` row blocks (search.executors)
        self.executor = None if executor is None or executor.name == "serial" else executor
        self.chunks = chunks
        self.n_evals = 0
        self.best_fitness = np.inf
        self.best_genome: np.ndarray | None = None
        self.history: list[dict] = []
        self._t0 = time.perf_counter()
        self._log: AtomicFile | None = None
        # where agents may write their own logs beside the history (RL learning curves)
        self.log_dir = Path(log_dir) if log_dir is not None else None
        if log_dir is not None:
            Path(log_dir).mkdir(parents=True, exist_ok=True)
            self._log = AtomicFile(Path(log_dir) / "history.jsonl")

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self._t0

    @property
    def remaining(self) -> int:
        left = np.inf if self.budget.evals is None else self.budget.evals - self.n_evals
        return int(left) if np.isfinite(left) else 2**62

    @property
    def exhausted(self) -> bool:
        return self.remaining <= 0 or (
            self.budget.seconds is not None and self.seconds >= self.budget.seconds
        )

    def evaluate(self, genomes) -> Any:
        """Evaluate rows the budget affords; returns the problem's batch result for them."""
        if self.exhausted:
            raise BudgetExhausted
        g = np.atleast_2d(np.asarray(genomes, dtype=np.int64))[: self.remaining]
        if self.executor is not None and len(g) >= 2 * self.chunks:
            from .executors import evaluate_chunked

            res = evaluate_chunked(self.problem, g, self.executor, self.chunks)
        else:
            res = self.problem.evaluate_batch(g)
        fit = self.problem.objective_of(res)
        self.n_evals += len(g)
        i = int(np.argmin(fit))
        improved = bool(fit[i] < self.best_fitness)
        if improved:
            self.best_fitness = float(fit[i])
            self.best_genome = self.problem.repair(g[i : i + 1])[0]
        self._record(fit, res, keep=improved or not self.history)
        return res

    def __call__(self, genomes) -> np.ndarray:
        return self.problem.objective_of(self.evaluate(genomes))

    #: an agent whose proposals have all been seen before this many calls in a row has converged
    STALL_LIMIT = 2000

    def cached(self, genomes) -> np.ndarray:
        """Fitness of every row, evaluating (and counting) only schedules not seen before in this
        run (rows are compared in canonical form). Rows the budget could not afford get ``inf``.
        Raises :class:`BudgetExhausted` when the budget is spent, or when :attr:`STALL_LIMIT`
        calls in a row brought nothing new (the agent has converged)."""
        g = np.atleast_2d(np.asarray(genomes, dtype=np.int64))
        keys = self.problem.schedule_keys(g)
        if not hasattr(self, "_cache"):
            self._cache: dict[bytes, float] = {}
            self._stalls = 0
        fresh: dict[bytes, int] = {}
        for i, k in enumerate(keys):
            if k not in self._cache and k not in fresh:
                fresh[k] = i
        if fresh:
            self._stalls = 0
            rows = list(fresh.values())
            f = self(g[rows])
            for k, v in zip(list(fresh)[: len(f)], f):
                self._cache[k] = float(v)
        else:
            self._stalls += 1
            if self._stalls >= self.STALL_LIMIT or self.exhausted:
                raise BudgetExhausted
        return np.array([self._cache.get(k, np.inf) for k in keys])

    def _record(self, fit: np.ndarray, res, keep: bool) -> None:
        rec = {
            "evals": self.n_evals,
            "seconds": round(self.seconds, 6),
            "best": self.best_fitness,
            "pop_min": float(fit.min()),
            "pop_median": float(np.median(fit)),
            "pop_mean": float(fit.mean()),
            "pop_max": float(fit.max()),
        }
        for name in ("latency_s", "energy_j", "edp"):
            v = np.asarray(getattr(res, name))
            rec[f"pop_min_{name}"] = float(v.min())
        if self.history_mode == "calls" or keep:
            self._write(rec)
        else:
            self._pending = rec
        if self.progress is not None:
            self.progress(self.n_evals, self.best_fitness)

    def _write(self, rec: dict) -> None:
        self._pending = None
        self.history.append(rec)
        if self._log is not None:
            self._log.file.write(json.dumps(rec) + "\n")
            self._log.file.flush()

    def close(self, ok: bool = True) -> None:
        """End the history (in improvements mode the last call's record is written first): with
        ``ok`` it replaces ``history.jsonl`` whole, else it is dropped (its temporary file
        deleted, history.jsonl left as it was)."""
        try:
            if self._pending is not None:
                self._write(self._pending)
        except BaseException:
            ok = False  # a history without its last record is not committed
            raise
        finally:
            log, self._log = self._log, None
            if log is not None:
                log.commit() if ok else log.discard()


@dataclass
class SearchResult:
    """What a search returns: the best schedule with all its metrics, and the fitness curve."""

    algorithm: str
    seed: int
    best_genome: np.ndarray
    best_schedule: Schedule
    best_fitness: float
    metrics: dict[str, Any]
    history: list[dict]
    n_evals: int
    seconds: float
    pareto: list[dict] = field(default_factory=list)  # multi-objective agents: the front
    extra: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict:
        return {
            "algorithm": self.algorithm,
            "seed": self.seed,
            "best": self.best_fitness,
            "evals": self.n_evals,
            "seconds": self.seconds,
            **{k: v for k, v in self.metrics.items() if isinstance(v, (int, float))},
        }


class Algorithm:
    """Base of every agent. Subclasses set ``name``, take their options as keyword arguments in
    ``__init__`` (unknown ones are a ``ValueError``), and implement :meth:`search`, which calls
    ``ev`` until it raises :class:`BudgetExhausted` or ``ev.exhausted`` (or the agent is done,
    e.g. exhaustive enumeration finished)."""

    name: ClassVar[str] = ""
    options: ClassVar[dict[str, Any]] = {}
    #: bumped when a change to the agent's code (or to code it shares, e.g. the operators)
    #: changes what its runs compute: part of :func:`search.api.run_hash` from 1 on, so runs
    #: finished by the older code are recomputed instead of reused (0: the first revision,
    #: absent from the hash so the hashes of runs made before revisions existed still match; an
    #: agent that runs others passes their revisions on in :meth:`hash_inputs`, as policy-ga does)
    revision: ClassVar[int] = 0

    def __init__(self, **options: Any) -> None:
        unknown = sorted(set(options) - set(self.options))
        if unknown:
            allowed = ", ".join(sorted(self.options)) or "none"
            raise ValueError(
                f"agent {self.name!r} does not take option {unknown[0]!r}; allowed: {allowed}"
            )
        self.config = {**self.options, **options}
        for key, default in self.options.items():  # a yes/no option takes only true or false
            v = self.config[key]
            if isinstance(default, bool) and not isinstance(v, bool):
                raise ValueError(f"option {key!r} must be true or false, got {v!r}")

    def search(self, problem: Problem, ev: Evaluator, rng: np.random.Generator) -> None:
        raise NotImplementedError

    def extra_result(self) -> dict[str, Any]:
        """Anything agent-specific to put in :attr:`SearchResult.extra` (e.g. a Pareto front)."""
        return {}

    def hash_inputs(self) -> dict[str, Any]:
        """What the run depends on besides its options (e.g. a weights file's digest), for
        :func:`search.api.run_hash`; nothing by default."""
        return {}
