"""Issue 12's exact-tier target, checked in CI (``pytest -m slow``, a step of ``.ci/run``): in
the unseeded track the project's GA and SA reach the proven optimum of every tiny instance
(``best_known.json``, ``source: exhaustive``, re-proven by ``tests/test_suite.py``) on at least 9
of 10 seeds within 2,000 evaluations.

The one known miss is marked ``xfail(strict=True)``: SA on ``t-1x3-wow-latency-3m`` reaches the
optimum on 2 of 10 seeds (the others end in local optima 0.46% and 2.2% above it); strict, so
the mark must go when SA meets the bar. ~5 min on one core; out of the default run.
"""

from __future__ import annotations

import pytest

from search import Budget, run
from search.suite import load_best_known, select

pytestmark = pytest.mark.slow

TINY = select(["tiny"])
SEEDS = range(10)
#: (agent, instance) pairs measured below the bar (see the module docstring)
KNOWN_MISSES = {("sa", "t-1x3-wow-latency-3m")}


def _cases():
    for agent in ("ga", "sa"):
        for inst in TINY:
            marks = (
                [pytest.mark.xfail(strict=True, reason="measured 2 of 10 seeds (issue 12 note)")]
                if (agent, inst.name) in KNOWN_MISSES
                else []
            )
            yield pytest.param(agent, inst, id=f"{agent}-{inst.name}", marks=marks)


@pytest.mark.parametrize("agent,inst", list(_cases()))
def test_reaches_the_proven_optimum_on_9_of_10_seeds(agent, inst):
    known = load_best_known()[inst.name]
    assert known.optimal and known.source == "exhaustive"
    problem = inst.problem()
    found = [
        run(problem, agent, Budget(evals=2000), seed, seed_baselines=False).best_fitness
        for seed in SEEDS
    ]
    at_optimum = sum(known.reached_by(f) for f in found)
    assert at_optimum >= 9, f"{agent} reached the optimum on {at_optimum} of 10 seeds: {found}"
