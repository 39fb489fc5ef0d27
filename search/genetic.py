"""Genetic algorithms on DEAP: ``ga`` (single objective) and ``nsga2`` (latency x energy [x
throughput]). DEAP's Logbook keeps the per-generation statistics and its non-dominated sorting
and crowding drive NSGA-II; every random draw comes from the run's ``numpy.random.Generator``
(DEAP's own random operators use Python's global state, so ours are numpy-based). Children are
made for the whole offspring at once (:mod:`search.operators`: numpy over the rows) and whole
populations are evaluated at once through the batch evaluator. Without ``seed_baselines`` (the
unseeded track) the first population is :meth:`~search.operators.GenomeOps.starts` only.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from deap import base, tools

from costmodel import baseline_genomes as valid_baseline_genomes
from costmodel import problem_baseline_names

from .base import Algorithm, Evaluator
from .operators import GenomeOps


def progress(ev: Evaluator) -> float:
    """Fraction of the budget used (evaluations or seconds, whichever is further)."""
    f = 0.0
    if ev.budget.evals is not None:
        f = max(f, ev.n_evals / ev.budget.evals)
    if ev.budget.seconds is not None:
        f = max(f, ev.seconds / ev.budget.seconds)
    return min(f, 1.0)


def baseline_genomes(problem) -> list[np.ndarray]:
    """Genomes of the SCAR baselines that are valid on this problem (standalone and Simba-like
    for every dataflow present, dataflow by dataflow: the order of the seeded first
    population)."""
    names = problem_baseline_names(problem, sequential=False)
    return list(valid_baseline_genomes(problem, names).values())


def initial_population(
    problem,
    size: int,
    rng: np.random.Generator,
    seed_baselines: bool,
    ops: GenomeOps | None = None,
    warm: np.ndarray | None = None,
) -> np.ndarray:
    """``size`` first genomes: ``warm`` (schedules another agent found, first), the baselines
    when ``seed_baselines`` (the seeded track), the rest :meth:`GenomeOps.starts`
    (structure-aware random starts, never the baselines)."""
    seeds = (
        []
        if warm is None
        else list(np.asarray(warm, dtype=np.int64).reshape(-1, problem.genome_length))
    )
    seeds += baseline_genomes(problem) if seed_baselines else []
    seeds = seeds[:size]
    ops = ops if ops is not None else GenomeOps(problem)
    rand = ops.starts(size - len(seeds), rng)
    return np.concatenate(
        [np.array(seeds, dtype=np.int64).reshape(-1, problem.genome_length), rand]
    )


def tournament(fitness: np.ndarray, k: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of ``k`` winners of ``size``-way tournaments (lowest fitness wins)."""
    entrants = rng.integers(len(fitness), size=(k, size))
    return entrants[np.arange(k), np.argmin(fitness[entrants], axis=1)]


class Strength:
    """Mutation strength by the 1/5th success rule: the mean number of moves per child grows by
    ``factor`` when more than a fifth of the children beat their parent, else shrinks by
    ``factor ** (1/4)`` (stationary at a 1/5 success rate); kept in ``[1, top]``."""

    def __init__(self, start: float, top: float, factor: float = 1.25, adapt: bool = True) -> None:
        self.value, self.top, self.factor, self.adapt = float(start), float(top), factor, adapt

    def draw(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Moves per child: 1 + Poisson(value - 1)."""
        return 1 + rng.poisson(max(self.value - 1.0, 0.0), size=n)

    def update(self, success_rate: float) -> None:
        if self.adapt:
            f = self.factor if success_rate > 0.2 else self.factor**-0.25
            self.value = min(max(self.value * f, 1.0), self.top)


def make_children(
    ops: GenomeOps,
    pop: np.ndarray,
    parents: np.ndarray,
    mates: np.ndarray,
    rng: np.random.Generator,
    cx_prob: float,
    n_moves: np.ndarray,
) -> np.ndarray:
    """Children of ``pop[parents]`` (crossed with ``pop[mates]`` with probability ``cx_prob``),
    mutated by ``n_moves`` moves each, all rows at once; a child identical to its first parent
    (a wasted evaluation) is mutated again, up to 4 times."""
    first = pop[parents]
    kids = first.copy()
    cx = np.flatnonzero(rng.random(len(parents)) < cx_prob)
    if len(cx):
        kids[cx] = ops.crossover_batch(first[cx], pop[mates[cx]], rng)
    kids = ops.mutate_batch(kids, rng, n_moves)
    for _ in range(4):
        same = np.flatnonzero(np.all(kids == first, axis=1))
        if not len(same):
            break
        kids[same] = ops.mutate_batch(kids[same], rng, 1)
    return kids


class GA(Algorithm):
    """Evolutionary algorithm with tournament selection, encoding-aware crossover and moves
    (:mod:`search.operators`), mutation strength by the 1/5th rule and, by default, plus
    selection: the best ``population`` distinct schedules of parents and children survive
    (``plus=False``: generational with ``elite`` elites). Children are made for the whole
    offspring at once (numpy over the rows)."""

    name = "ga"
    options = {
        "population": 32,
        "offspring": 32,
        "cx_prob": 0.5,
        "moves": 1.5,
        "max_moves": 8.0,
        "adapt": True,
        "tournament": 2,
        "elite": 2,
        "plus": True,
        "seed_baselines": True,
    }

    #: genomes put first in the first population (:func:`initial_population`), set by a
    #: composite agent (``policy-ga``); not an option, so it is not part of the run hash twice
    warm_start: np.ndarray | None = None

    def search(self, problem, ev: Evaluator, rng: np.random.Generator) -> None:
        cfg = self.config
        P, E = int(cfg["population"]), int(cfg["elite"])
        lam = int(cfg["offspring"])
        if P < 2 or not 0 <= E < P or lam < 1:
            raise ValueError(
                "ga needs population >= 2, offspring >= 1 and 0 <= elite < population, "
                f"got {P}, {lam}, {E}"
            )
        if not 1.0 <= float(cfg["moves"]) <= float(cfg["max_moves"]):
            raise ValueError(
                f"ga needs 1 <= moves <= max_moves, got {cfg['moves']}, {cfg['max_moves']}"
            )
        if not bool(cfg["plus"]):
            lam = P - E
        ops = GenomeOps(problem)
        strength = Strength(float(cfg["moves"]), float(cfg["max_moves"]), adapt=bool(cfg["adapt"]))
        stats = tools.Statistics()
        stats.register("min", np.min)
        stats.register("median", np.median)
        self.logbook = tools.Logbook()
        pop = initial_population(problem, P, rng, bool(cfg["seed_baselines"]), ops, self.warm_start)
        fit = ev.cached(pop)
        gen = 0
        self.logbook.record(
            gen=gen, evals=ev.n_evals, strength=strength.value, **stats.compile(fit)
        )
        k = int(cfg["tournament"])
        self.restarts = 0
        while not ev.exhausted:
            parents = tournament(fit, lam, k, rng)
            mates = tournament(fit, lam, k, rng)
            kids = make_children(
                ops, pop, parents, mates, rng, float(cfg["cx_prob"]), strength.draw(lam, rng)
            )
            before = ev.n_evals
            kfit = ev.cached(kids)  # a schedule seen before costs no new evaluation
            if ev.n_evals == before and not ev.exhausted:
                # nothing new: the population has converged; its worse half restarts
                h = P // 2
                fresh = ops.starts(h, rng)
                ff = ev.cached(fresh)
                order = np.argsort(fit, kind="stable")
                pop = np.concatenate([pop[order[: P - h]], fresh])
                fit = np.concatenate([fit[order[: P - h]], ff])
                self.restarts += 1
                continue
            strength.update(float(np.mean(kfit < fit[parents])))
            if cfg["plus"]:
                allf = np.concatenate([fit, kfit])
                # distinct schedules only (equal fitness stands for equal schedule here)
                _, first = np.unique(allf, return_index=True)
                keep = first[np.argsort(allf[first], kind="stable")][:P]
                if len(keep) < P:  # too few distinct: fill with the best of the rest
                    rest = np.setdiff1d(np.argsort(allf, kind="stable"), keep, assume_unique=True)
                    keep = np.concatenate([keep, rest[: P - len(keep)]])
                # survivors taken from parents and children directly (no copy of both)
                old = keep < len(pop)
                survivors = np.empty((len(keep), pop.shape[1]), dtype=pop.dtype)
                survivors[old], survivors[~old] = pop[keep[old]], kids[keep[~old] - len(pop)]
                pop, fit = survivors, allf[keep]
            else:
                order = np.argsort(fit, kind="stable")
                pop = np.concatenate([pop[order[:E]], kids])
                fit = np.concatenate([fit[order[:E]], kfit])
            gen += 1
            self.logbook.record(
                gen=gen, evals=ev.n_evals, strength=strength.value, **stats.compile(fit)
            )

    def extra_result(self) -> dict:
        return {
            "generations": len(getattr(self, "logbook", [])) - 1,
            "restarts": getattr(self, "restarts", 0),
        }


class _Fit2(base.Fitness):
    weights = (-1.0, -1.0)


class _Fit3(base.Fitness):
    weights = (-1.0, -1.0, -1.0)


class _Ind:
    """A population member for DEAP's sorting: an index into the population and its fitness."""

    __slots__ = ("i", "fitness")

    def __init__(self, i: int, values, fit_cls) -> None:
        self.i = i
        self.fitness = fit_cls(tuple(values))


def objective_matrix(res, names: tuple[str, ...]) -> np.ndarray:
    """Minimized objectives: ``latency_s``, ``energy_j`` and ``throughput`` as 1/throughput."""
    cols = [1.0 / res.throughput if n == "throughput" else getattr(res, n) for n in names]
    return np.stack(cols, axis=1)


def non_dominated(F: np.ndarray) -> np.ndarray:
    """Indices of the non-dominated rows of ``F`` (minimization), via DEAP's sorting."""
    fit_cls = _Fit2 if F.shape[1] == 2 else _Fit3
    inds = [_Ind(i, f, fit_cls) for i, f in enumerate(F)]
    front = tools.sortNondominated(inds, len(inds), first_front_only=True)[0]
    return np.array(sorted(x.i for x in front), dtype=np.int64)


def hypervolume(F: np.ndarray, ref: np.ndarray) -> float:
    """Hypervolume (minimization) of ``F / ref`` against the point (1, ..., 1), via moocore."""
    import moocore

    pts = F / ref
    pts = pts[np.all(pts < 1.0, axis=1)]
    return float(moocore.hypervolume(pts, ref=np.ones(F.shape[1]))) if len(pts) else 0.0


def front_record(
    names: Sequence[str], G: np.ndarray, F: np.ndarray, ref: np.ndarray, hv_curve: list
) -> dict:
    """A front for ``result.json``: its distinct points by the first objective (each with its
    genome), the hypervolume against ``ref``, ``ref`` itself and the hypervolume curve (shared
    by ``nsga2`` and ``pymoo-nsga2`` so that their fronts compare)."""
    _, uniq = np.unique(F, axis=0, return_index=True)
    idx = np.sort(uniq)
    idx = idx[np.argsort(F[idx, 0], kind="stable")]
    pareto = [{**dict(zip(names, map(float, F[i]))), "genome": G[i].tolist()} for i in idx]
    return {
        "pareto": pareto,
        "hypervolume": hypervolume(F[idx], ref),
        "hv_reference": dict(zip(names, map(float, ref))),
        "hv_curve": hv_curve,
    }


class NSGA2(Algorithm):
    """NSGA-II over latency and energy (option ``objectives`` adds ``throughput``). The result's
    Pareto front is the non-dominated set of everything evaluated; its hypervolume is measured
    on objectives divided by a reference point fixed per problem: 1.1 x the per-objective maximum
    over ``problem.sample(64, seed=0)`` (documented, independent of the run's seed)."""

    name = "nsga2"
    options = {
        "population": 64,
        "cx_prob": 0.9,
        "moves": 2,
        "objectives": ("latency_s", "energy_j"),
        "seed_baselines": True,
    }

    def search(self, problem, ev: Evaluator, rng: np.random.Generator) -> None:
        cfg = self.config
        names = tuple(cfg["objectives"])
        allowed = ("latency_s", "energy_j", "throughput")
        if len(names) not in (2, 3) or any(n not in allowed for n in names):
            raise ValueError(f"nsga2 objectives must be 2 or 3 of {allowed}, got {names}")
        self.names = names
        fit_cls = _Fit2 if len(names) == 2 else _Fit3
        P = int(cfg["population"])
        ops = GenomeOps(problem)
        ref_res = problem.evaluate_batch(problem.sample(64, seed=0))  # not a search evaluation
        self.ref = objective_matrix(ref_res, names).max(axis=0) * 1.1
        pop = initial_population(problem, P, rng, bool(cfg["seed_baselines"]), ops)
        F = objective_matrix(ev.evaluate(pop), names)
        pop = pop[: len(F)]
        nd = non_dominated(F)
        self.front_g, self.front_f = pop[nd], F[nd]  # non-dominated set of all evaluated
        self.hv_curve = [(ev.n_evals, hypervolume(self.front_f, self.ref))]
        while not ev.exhausted:
            rank, crowd = self._rank(F, fit_cls)
            a, b = rng.integers(len(pop), size=(2, P))
            better = (rank[a] < rank[b]) | ((rank[a] == rank[b]) & (crowd[a] >= crowd[b]))
            parents = np.where(better, a, b)
            mates = rng.permutation(parents)
            kids = make_children(
                ops, pop, parents, mates, rng, float(cfg["cx_prob"]), np.full(P, int(cfg["moves"]))
            )
            KF = objective_matrix(ev.evaluate(kids), names)
            kids = kids[: len(KF)]
            allg, allf = np.concatenate([pop, kids]), np.concatenate([F, KF])
            inds = [_Ind(i, f, fit_cls) for i, f in enumerate(allf)]
            keep = np.array([x.i for x in tools.selNSGA2(inds, min(P, len(inds)))])
            pop, F = allg[keep], allf[keep]
            fg, ff = np.concatenate([self.front_g, kids]), np.concatenate([self.front_f, KF])
            nd = non_dominated(ff)
            self.front_g, self.front_f = fg[nd], ff[nd]
            self.hv_curve.append((ev.n_evals, hypervolume(self.front_f, self.ref)))

    @staticmethod
    def _rank(F: np.ndarray, fit_cls) -> tuple[np.ndarray, np.ndarray]:
        inds = [_Ind(i, f, fit_cls) for i, f in enumerate(F)]
        rank = np.zeros(len(F), dtype=np.int64)
        crowd = np.zeros(len(F))
        for r, front in enumerate(tools.sortNondominated(inds, len(inds))):
            tools.emo.assignCrowdingDist(front)
            for x in front:
                rank[x.i] = r
                crowd[x.i] = x.fitness.crowding_dist
        return rank, crowd

    def extra_result(self) -> dict:
        if not hasattr(self, "front_f"):
            return {}
        return front_record(self.names, self.front_g, self.front_f, self.ref, self.hv_curve)
