"""Agents by name, imported lazily (``ppo`` needs the ``rl`` extra only when asked for)."""

from __future__ import annotations

import importlib
from typing import Any

from .base import Algorithm

#: name -> "module:Class" inside the search package
AGENTS: dict[str, str] = {
    "random": "random_search:RandomSearch",
    "scar": "scar:ScarHeuristic",
    "scar-ea": "scar:ScarEA",
    "sa": "annealing:SimulatedAnnealing",
    "ga": "genetic:GA",
    "nsga2": "genetic:NSGA2",
    "reinforce": "rl:Reinforce",
    "reinforce-moves": "improve:ReinforceMoves",
    "policy": "improve:ShippedPolicy",
    "policy-ga": "improve:PolicyThenGA",
    "construct": "construct:Construct",
    "construct-uniform": "construct:ConstructUniform",
    "construct-ga": "construct:ConstructThenGA",
    "ppo": "rl:MaskablePPOAgent",
    "exhaustive": "exact:Exhaustive",
    "pymoo-ga": "outside:PymooGA",
    "pymoo-nsga2": "outside:PymooNSGA2",
    "ng-discrete11": "outside:NevergradDiscreteOnePlusOne",
    "ng-ngopt": "outside:NevergradNGOpt",
}


def is_outside(name: str) -> bool:
    """Whether agent ``name`` wraps an outside optimizer (pymoo, Nevergrad: the ``outside``
    extra), the reference points the project's own agents are measured against."""
    return AGENTS.get(name, "").startswith("outside:")


def agent_class(name: str) -> type[Algorithm]:
    if name not in AGENTS:
        raise ValueError(f"unknown agent {name!r}; choices: {', '.join(AGENTS)}")
    module, cls = AGENTS[name].split(":")
    return getattr(importlib.import_module(f"search.{module}"), cls)


def make_agent(name: str, **options: Any) -> Algorithm:
    return agent_class(name)(**options)
