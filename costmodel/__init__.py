"""chiplet-sched cost model: hardware, workloads and per-layer cost tables.

This package knows nothing of ``env``, ``search`` or ``experiments``.
"""

from .hardware import DATAFLOWS, MCM, PATTERNS, ChipletClass, mcm, monolithic
from .workload import Layer, Model, Workload
from .zoo import MODELS, SCENARIOS, build_model, scenario

__all__ = [
    "DATAFLOWS",
    "MCM",
    "PATTERNS",
    "ChipletClass",
    "mcm",
    "monolithic",
    "Layer",
    "Model",
    "Workload",
    "MODELS",
    "SCENARIOS",
    "build_model",
    "scenario",
]

from .cost import CostArrays, CostTable, LayerCost, layer_cost, layer_costs  # noqa: E402

__all__ += ["CostArrays", "CostTable", "LayerCost", "layer_cost", "layer_costs"]

from .backends import BACKENDS, batch_evaluator, repair_genomes  # noqa: E402
from .compiled import CompiledProblem, compile_problem  # noqa: E402
from .problem import DISPATCH_POLICIES, OBJECTIVES, Problem  # noqa: E402
from .results import BatchResult, Result, StageFigures  # noqa: E402
from .schedule import Schedule, Stage  # noqa: E402
from .stages import stage_runs  # noqa: E402

__all__ += [
    "BACKENDS",
    "batch_evaluator",
    "repair_genomes",
    "CompiledProblem",
    "compile_problem",
    "DISPATCH_POLICIES",
    "OBJECTIVES",
    "Problem",
    "BatchResult",
    "Result",
    "StageFigures",
    "Schedule",
    "Stage",
    "stage_runs",
]

from .baselines import (  # noqa: E402
    BASELINES,
    baseline_genomes,
    baseline_names,
    baseline_schedule,
    problem_baseline_names,
    sequential,
    simba,
    standalone,
)
from .simulate import simulate  # noqa: E402

__all__ += [
    "BASELINES",
    "baseline_names",
    "baseline_genomes",
    "baseline_schedule",
    "problem_baseline_names",
    "sequential",
    "simba",
    "standalone",
    "simulate",
]
