"""Outside optimizers as agents: pymoo's GA and NSGA-II, Nevergrad's DiscreteOnePlusOne and NGOpt.

They need the optional ``outside`` extra (``pip install -e ".[outside]"``: pymoo and nevergrad);
without it the agent's constructor raises a ``ValueError`` that says so. Each sits behind the same
counting :class:`~search.base.Evaluator` and budget as every other agent, in ask-and-tell form:

- randomness: one seed drawn from the run's generator seeds the library (pymoo's
  ``Algorithm(seed=...)``, which builds its own ``numpy.random.Generator``; Nevergrad's
  ``parametrization.random_state``), so the same seed gives the same result, whatever the global
  random state;
- start: random genomes from ``problem.sample`` (drawn from the run's generator) and nothing else:
  no baseline schedules (the unseeded track; compare with ``ga``/``nsga2`` with
  ``seed_baselines=False``);
- evaluation: every genome a library proposes is rounded, repaired with ``problem.repair`` and
  evaluated through the evaluator, a schedule already seen in the run costing no new evaluation
  (``ev.cached``; the multi-objective agent keeps the same kind of cache for its objective
  vectors); the search ends when the budget is spent (:class:`~search.base.BudgetExhausted`);
- variables: the genes with more than one value; a micro-batch gene of a model whose batch has a
  single divisor is held at 0 and never shown to the library.

``pymoo-ga`` and ``pymoo-nsga2`` follow pymoo's guide to integer variables: integer bounds,
simulated binary crossover and polynomial mutation on floats, each followed by rounding
(``RoundingRepair``), then ``problem.repair`` as the algorithm's repair (so the population holds the
repaired genomes), with duplicate elimination. ``pymoo-nsga2`` minimizes latency and energy
(option ``objectives``, as :class:`search.genetic.NSGA2`) and returns the same ``pareto``,
``hypervolume``, ``hv_reference`` and ``hv_curve``. ``ng-discrete11`` (DiscreteOnePlusOne) and
``ng-ngopt`` (NGOpt, which picks its own optimizer for the space and budget; here
DoubleFastGADiscreteOnePlusOne, in ``extra["ng_optimizer"]``) ask for one genome at a time over an
integer ``ng.p.Array`` with bounds, built as Nevergrad builds its unordered ``TransitionChoice``
(so that a redrawn variable takes each value with the same chance), the first genome asked being
a sampled one (``optimizer.suggest``). Nevergrad is told the evaluation budget; a genome already
evaluated costs nothing, and the run also ends after :data:`ASKS_PER_EVAL` asks per evaluation in
the budget (converged). Two other parametrizations were tried on sc4 and the small instance: an
integer array whose reference is the sampled genome (redraws centred on it) got stuck 30-58% above
the small instance's optimum on 4 of 10 seeds, where this one reached it on 10 of 10; one
``ng.p.Choice`` per gene reached about the same EDP on sc4 but took 10x longer per evaluation,
in Nevergrad's own bookkeeping of 900 choices.
"""

from __future__ import annotations

import importlib
from typing import Any, ClassVar

import numpy as np

from .base import Algorithm, BudgetExhausted, Evaluator
from .genetic import front_record, hypervolume, non_dominated, objective_matrix

#: how to install what these agents need
OUTSIDE_EXTRA_HINT = 'pip install -e ".[outside]"'

#: the evaluation budget Nevergrad is told when the run's budget is seconds only (NGOpt picks
#: its optimizer by budget: ChainMetaModelPowell from about 10,000 on)
NG_BUDGET_SECONDS_ONLY = 2000

#: a Nevergrad agent is asked for at most this many genomes per evaluation in the budget: a
#: genome already evaluated costs nothing, and one that keeps proposing them has converged
ASKS_PER_EVAL = 5


def _require(module: str, agent: str) -> None:
    try:
        importlib.import_module(module)
    except ImportError as err:
        raise ValueError(
            f"agent {agent!r} needs {module}, from the optional 'outside' extra: "
            f"{OUTSIDE_EXTRA_HINT} ({err})"
        ) from err


def _positive_int(name: str, value: Any, least: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < least:
        raise ValueError(f"option {name!r} must be an integer >= {least}, got {value!r}")
    return int(value)


def _probability(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ValueError(f"option {name!r} must be a probability in [0, 1], got {value!r}")
    return float(value)


def _library_seed(rng: np.random.Generator) -> int:
    """A seed for the library, drawn from the run's generator."""
    return int(rng.integers(0, 2**31 - 1))


class _Genes:
    """The library's variables (genes with more than one value) <-> repaired genomes."""

    def __init__(self, problem) -> None:
        self.problem = problem
        self.free = np.flatnonzero(problem.nvec > 1)
        self.nvec = problem.nvec[self.free]

    def genomes(self, X) -> np.ndarray:
        """Genomes ``[P, G]`` of variable rows ``[P, V]``: rounded, placed, repaired."""
        X = np.atleast_2d(np.asarray(X, dtype=np.float64))
        g = np.zeros((len(X), self.problem.genome_length), dtype=np.int64)
        g[:, self.free] = np.rint(X).astype(np.int64)
        return self.problem.repair(g)

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return self.problem.sample(n, rng)[:, self.free]


class _Objectives:
    """Objective vectors of genomes through ``ev``, as :meth:`Evaluator.cached` does for the
    scalar fitness: a schedule seen before in this run (compared in canonical form) costs no new
    evaluation, rows the budget could not afford get ``inf``, and ``STALL_LIMIT`` calls in a row
    with nothing new end the search."""

    def __init__(self, problem, ev: Evaluator, names: tuple[str, ...]) -> None:
        self.problem, self.ev, self.names = problem, ev, names
        self.cache: dict[bytes, np.ndarray] = {}
        self.stalls = 0

    def __call__(self, G: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(objectives of every row, newly evaluated genomes, their objectives)``."""
        keys = self.problem.schedule_keys(G)
        fresh: dict[bytes, int] = {}
        for i, k in enumerate(keys):
            if k not in self.cache and k not in fresh:
                fresh[k] = i
        new_g = np.zeros((0, G.shape[1]), dtype=np.int64)
        new_f = np.zeros((0, len(self.names)))
        if fresh:
            self.stalls = 0
            rows = list(fresh.values())
            new_f = objective_matrix(self.ev.evaluate(G[rows]), self.names)
            new_g = G[rows[: len(new_f)]]
            for k, f in zip(list(fresh)[: len(new_f)], new_f):
                self.cache[k] = f
        else:
            self.stalls += 1
            if self.stalls >= Evaluator.STALL_LIMIT or self.ev.exhausted:
                raise BudgetExhausted
        missing = np.full(len(self.names), np.inf)
        return np.array([self.cache.get(k, missing) for k in keys]), new_g, new_f


# --- pymoo ----------------------------------------------------------------------------------
class _Pymoo(Algorithm):
    """Ask-and-tell over a pymoo genetic algorithm on the integer variables (see the module)."""

    n_obj = 1

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        c = self.config
        c["population"] = _positive_int("population", c["population"], least=2)
        c["cx_prob"] = _probability("cx_prob", c["cx_prob"])
        for k in ("cx_eta", "mut_eta"):
            if isinstance(c[k], bool) or not isinstance(c[k], (int, float)) or not c[k] > 0:
                raise ValueError(f"option {k!r} must be a positive number, got {c[k]!r}")
        _require("pymoo", self.name)

    def _algorithm(self, **kwargs):
        raise NotImplementedError

    def _evaluate(self, problem, ev: Evaluator, G: np.ndarray) -> np.ndarray:
        """Objective matrix ``[n, n_obj]`` of ``G`` (``inf`` where the budget ran out)."""
        return ev.cached(G)[:, None]

    def search(self, problem, ev: Evaluator, rng: np.random.Generator) -> None:
        from pymoo.config import Config
        from pymoo.core.evaluator import Evaluator as PymooEvaluator
        from pymoo.core.problem import Problem as PymooProblem
        from pymoo.core.repair import Repair
        from pymoo.core.termination import NoTermination
        from pymoo.operators.crossover.sbx import SBX
        from pymoo.operators.mutation.pm import PM
        from pymoo.operators.repair.rounding import RoundingRepair
        from pymoo.problems.static import StaticProblem

        Config.warnings["not_compiled"] = False  # it prints to stdout (breaks --json)
        genes = _Genes(problem)
        if len(genes.free) == 0:  # one schedule only
            self._evaluate(problem, ev, genes.genomes(np.zeros((1, 0))))
            return
        c = self.config
        n_var = len(genes.free)
        space = PymooProblem(
            n_var=n_var, n_obj=self.n_obj, xl=np.zeros(n_var), xu=genes.nvec - 1.0, vtype=int
        )

        class GenomeRepair(Repair):
            """``problem.repair`` on the whole genome (windows non-decreasing per model)."""

            def _do(self, _problem, X, **kwargs):
                return genes.genomes(X)[:, genes.free]

        algo = self._algorithm(
            pop_size=c["population"],
            sampling=genes.sample(c["population"], rng),
            crossover=SBX(
                prob=c["cx_prob"], eta=float(c["cx_eta"]), vtype=float, repair=RoundingRepair()
            ),
            mutation=PM(prob=1.0, eta=float(c["mut_eta"]), vtype=float, repair=RoundingRepair()),
            repair=GenomeRepair(),
            eliminate_duplicates=True,
        )
        algo.setup(space, termination=NoTermination(), seed=_library_seed(rng), verbose=False)
        self.generations = 0
        while not ev.exhausted:
            pop = algo.ask()
            if pop is None or len(pop) == 0:  # nothing new left to propose
                return
            F = self._evaluate(problem, ev, genes.genomes(pop.get("X")))
            if not np.all(np.isfinite(F)):  # the budget ran out inside this population
                return
            PymooEvaluator().eval(StaticProblem(space, F=F), pop, skip_already_evaluated=False)
            algo.tell(infills=pop)
            self.generations += 1

    def extra_result(self) -> dict[str, Any]:
        return {"generations": getattr(self, "generations", 0)}


class PymooGA(_Pymoo):
    """pymoo's single-objective GA: binary tournaments, SBX, polynomial mutation, elitist
    survival of the best ``population`` of parents and children."""

    name = "pymoo-ga"
    options = {"population": 64, "cx_prob": 1.0, "cx_eta": 3.0, "mut_eta": 3.0}

    def _algorithm(self, **kwargs):
        from pymoo.algorithms.soo.nonconvex.ga import GA

        return GA(**kwargs)


class PymooNSGA2(_Pymoo):
    """pymoo's NSGA-II over latency and energy (option ``objectives`` adds ``throughput``, as
    1/throughput). Like :class:`search.genetic.NSGA2`, the result's Pareto front is the
    non-dominated set of everything evaluated, with its hypervolume against the reference point
    fixed per problem (1.1 x the per-objective maximum over ``problem.sample(64, seed=0)``)."""

    name = "pymoo-nsga2"
    options = {
        "population": 64,
        "cx_prob": 1.0,
        "cx_eta": 3.0,
        "mut_eta": 3.0,
        "objectives": ("latency_s", "energy_j"),
    }

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        names = tuple(self.config["objectives"])
        allowed = ("latency_s", "energy_j", "throughput")
        if len(names) not in (2, 3) or len(set(names)) != len(names):
            raise ValueError(f"{self.name} objectives must be 2 or 3 of {allowed}, got {names}")
        if any(n not in allowed for n in names):
            raise ValueError(f"{self.name} objectives must be 2 or 3 of {allowed}, got {names}")
        self.names = names
        self.n_obj = len(names)

    def _algorithm(self, **kwargs):
        from pymoo.algorithms.moo.nsga2 import NSGA2

        return NSGA2(**kwargs)

    def search(self, problem, ev: Evaluator, rng: np.random.Generator) -> None:
        ref_res = problem.evaluate_batch(problem.sample(64, seed=0))  # not a search evaluation
        self.ref = objective_matrix(ref_res, self.names).max(axis=0) * 1.1
        self.front_g = np.zeros((0, problem.genome_length), dtype=np.int64)
        self.front_f = np.zeros((0, len(self.names)))
        self.hv_curve: list[tuple[int, float]] = []
        self._objectives = _Objectives(problem, ev, self.names)
        super().search(problem, ev, rng)

    def _evaluate(self, problem, ev: Evaluator, G: np.ndarray) -> np.ndarray:
        F, new_g, new_f = self._objectives(G)
        if len(new_f):
            fg = np.concatenate([self.front_g, new_g])
            ff = np.concatenate([self.front_f, new_f])
            nd = non_dominated(ff)
            self.front_g, self.front_f = fg[nd], ff[nd]
            self.hv_curve.append((ev.n_evals, hypervolume(self.front_f, self.ref)))
        return F

    def extra_result(self) -> dict[str, Any]:
        out = super().extra_result()
        if not len(getattr(self, "front_f", ())):
            return out
        # the same front, hypervolume and reference as search.genetic.NSGA2.extra_result
        return {
            **out,
            **front_record(self.names, self.front_g, self.front_f, self.ref, self.hv_curve),
        }


# --- Nevergrad ------------------------------------------------------------------------------
class _Nevergrad(Algorithm):
    """Ask-and-tell over a Nevergrad optimizer, one candidate at a time (``num_workers=1``)."""

    optimizer = ""
    options: ClassVar[dict[str, Any]] = {}

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        _require("nevergrad", self.name)

    def search(self, problem, ev: Evaluator, rng: np.random.Generator) -> None:
        import nevergrad as ng

        genes = _Genes(problem)
        self.asked = 0
        if len(genes.free) == 0:  # one schedule only
            ev.cached(genes.genomes(np.zeros((1, 0))))
            return
        # Each gene is an integer in 0..n-1 read off data in [0, n] bounded by the normal CDF,
        # minus 0.5 and rounded (as Nevergrad's unordered TransitionChoice does): the reference
        # data is the centre, so a standard normal draw (DiscreteOnePlusOne's mutation of a
        # variable) gives each value the same chance. The first genome asked is a sampled one.
        x0 = genes.sample(1, rng)[0].astype(np.float64)
        data = ng.p.Array(init=genes.nvec / 2.0)
        data.set_bounds(0.0, genes.nvec.astype(np.float64), method="gaussian")
        param = (data - 0.5).set_integer_casting()
        param.random_state = np.random.RandomState(_library_seed(rng))
        budget = ev.budget.evals if ev.budget.evals is not None else NG_BUDGET_SECONDS_ONLY
        opt = ng.optimizers.registry[self.optimizer](param, budget=int(budget), num_workers=1)
        opt.suggest(x0)
        self.chosen = getattr(opt, "optim", opt).name  # NGOpt's pick
        max_asks = ASKS_PER_EVAL * ev.budget.evals if ev.budget.evals is not None else np.inf
        while not ev.exhausted and self.asked < max_asks:
            cand = opt.ask()
            self.asked += 1
            f = ev.cached(genes.genomes(cand.value))[0]
            if not np.isfinite(f):
                return
            opt.tell(cand, float(f))

    def extra_result(self) -> dict[str, Any]:
        out: dict[str, Any] = {"asked": getattr(self, "asked", 0)}
        if hasattr(self, "chosen"):
            out["ng_optimizer"] = self.chosen
        return out


class NevergradDiscreteOnePlusOne(_Nevergrad):
    """Nevergrad's DiscreteOnePlusOne: a (1+1) evolution strategy whose mutation redraws each
    variable with probability 1/dimension."""

    name = "ng-discrete11"
    optimizer = "DiscreteOnePlusOne"


class NevergradNGOpt(_Nevergrad):
    """Nevergrad's NGOpt: picks an optimizer for the parametrization and budget (recorded in
    ``extra["ng_optimizer"]``)."""

    name = "ng-ngopt"
    optimizer = "NGOpt"


# --- the comparison in the README: python -m search.outside ----------------------------------
#: (label, agent, options): the outside agents beside ours on the unseeded track
COMPARED: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("random", "random", {}),
    ("ga (seed_baselines=False)", "ga", {"seed_baselines": False}),
    ("nsga2 (seed_baselines=False)", "nsga2", {"seed_baselines": False}),
    ("pymoo-ga", "pymoo-ga", {}),
    ("pymoo-nsga2", "pymoo-nsga2", {}),
    ("ng-discrete11", "ng-discrete11", {}),
    ("ng-ngopt", "ng-ngopt", {}),
)


def compare(evals: int = 2000, seeds: int = 3, small_seeds: int = 10) -> str:
    """A markdown table: each agent's median best EDP (min-max) on sc4 on a 3x3 ``het-sides`` MCM
    over seeds ``0..seeds-1``, and on the small instance how many of seeds ``0..small_seeds-1``
    reach the proven optimum and the median gap to it, all with ``evals`` evaluations."""
    from costmodel import Problem, mcm, scenario

    from .api import run
    from .base import Budget
    from .exact import optimum, small_instance

    sc4 = Problem(scenario("sc4"), mcm("het-sides", 3, 3), objective="edp")
    small = small_instance(0)
    opt = optimum(small)[1]
    lines = [
        f"| agent | sc4 3x3 het-sides: median EDP, J s (min-max), seeds 0-{seeds - 1} "
        f"| small instance: optimal runs, median gap (seeds 0-{small_seeds - 1}) |",
        "|---|---|---|",
    ]
    for label, name, options in COMPARED:
        edp = [
            run(sc4, name, Budget(evals=evals), seed=s, **options).best_fitness
            for s in range(seeds)
        ]
        gap = np.array(
            [
                run(small, name, Budget(evals=evals), seed=s, **options).best_fitness / opt - 1
                for s in range(small_seeds)
            ]
        )
        hits = int(np.sum(gap <= 1e-9))
        lines.append(
            f"| {label} | {np.median(edp):.4g} ({min(edp):.4g}-{max(edp):.4g}) "
            f"| {hits} of {small_seeds}, {100 * max(np.median(gap), 0.0):.1f}% |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser(description=compare.__doc__)
    ap.add_argument("--evals", type=int, default=2000)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--small-seeds", type=int, default=10)
    a = ap.parse_args()
    print(compare(a.evals, a.seeds, a.small_seeds))
