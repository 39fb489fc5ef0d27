"""Search agents behind one interface: ``run(problem, algorithm, budget, seed, log_dir)``."""

from .api import run, run_hash
from .base import Algorithm, Budget, BudgetExhausted, Evaluator, SearchResult
from .registry import AGENTS, agent_class, is_outside, make_agent

IMPROVE_ENV_ID = "chiplet_sched/Improve-v0"


def _register_improve_env() -> None:
    """Register ``chiplet_sched/Improve-v0`` (:mod:`env.improve`) with this package's moves:
    the environment cannot import the search layer, so the search layer registers it."""
    import gymnasium

    if IMPROVE_ENV_ID not in gymnasium.registry:
        gymnasium.register(id=IMPROVE_ENV_ID, entry_point="search.improve:make_improve_env")


_register_improve_env()

__all__ = [
    "run",
    "run_hash",
    "Algorithm",
    "Budget",
    "BudgetExhausted",
    "Evaluator",
    "SearchResult",
    "AGENTS",
    "is_outside",
    "agent_class",
    "make_agent",
    "IMPROVE_ENV_ID",
]
