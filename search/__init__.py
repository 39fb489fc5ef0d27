"""Search agents behind one interface: ``run(problem, algorithm, budget, seed, log_dir)``."""

from .api import run, run_hash
from .base import Algorithm, Budget, BudgetExhausted, Evaluator, SearchResult
from .registry import AGENTS, agent_class, make_agent

__all__ = [
    "run",
    "run_hash",
    "Algorithm",
    "Budget",
    "BudgetExhausted",
    "Evaluator",
    "SearchResult",
    "AGENTS",
    "agent_class",
    "make_agent",
]
