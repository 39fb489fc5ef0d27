"""What evaluating schedules returns: arrays for a population, detail for one schedule."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class BatchResult:
    """Figures of ``P`` schedules as arrays (``[P]`` unless noted). A fitness-only evaluation
    leaves the detail arrays (``window_latency_s``, ``chiplet_busy_s``, ``link_bytes``) empty."""

    latency_s: np.ndarray
    energy_j: np.ndarray
    energy_compute_j: np.ndarray  # MACs and fused ops
    energy_onchip_j: np.ndarray  # L1 and L2 accesses
    energy_nop_j: np.ndarray
    energy_dram_j: np.ndarray
    edp: np.ndarray
    throughput: np.ndarray  # inferences per second, steady state
    window_latency_s: np.ndarray  # [P, W]
    chiplet_busy_s: np.ndarray  # [P, n] over all windows
    link_bytes: np.ndarray  # [P, links] over all windows, in the MCM's ``links`` order
    dram_bytes: np.ndarray  # [P]
    #: [P, M] each model's latency (docs/evaluation.md, Per-model latency); [P, 0] when not
    #: asked for (``models=False`` on the fitness-only path)
    model_latency_s: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))

    def row(self, i: int) -> dict:
        return {
            k: (v[i].tolist() if v.ndim > 1 else float(v[i]))
            for k, v in self.__dict__.items()
            if v.size
        }


@dataclass
class StageFigures:
    """One stage of a schedule: what it costs per micro-batch and once per window.

    Everything the simulator needs to run the stage's tasks: ``time_per_micro_batch_s`` for each
    ``run`` task, ``weight_load_once_s`` for its ``load`` task (0: none), and the energy, DRAM
    bytes and NoP link bytes each task carries.
    """

    model: str
    model_index: int
    window: int
    chiplet: int
    layers: tuple[int, int]  # [start, stop) model-local
    micro_batch: int
    n_micro_batches: int
    time_per_micro_batch_s: float
    weight_load_once_s: float
    energy_per_micro_batch_j: float = 0.0
    energy_once_j: float = 0.0
    dram_bytes_per_micro_batch: float = 0.0
    dram_bytes_once: float = 0.0
    link_bytes_per_micro_batch: dict[tuple[int, int], float] = field(default_factory=dict)
    link_bytes_once: dict[tuple[int, int], float] = field(default_factory=dict)

    def to_dict(self) -> dict:
        """JSON-ready: links as ``"a->b"`` keys."""
        d = dict(self.__dict__)
        for k in ("link_bytes_per_micro_batch", "link_bytes_once"):
            d[k] = {f"{a}->{b}": v for (a, b), v in d[k].items()}
        d["layers"] = list(self.layers)
        return d


@dataclass
class Result:
    """One schedule's figures, with per window, per model, per stage and per chiplet detail."""

    latency_s: float
    energy_j: float
    energy_breakdown_j: dict[str, float]
    edp: float
    throughput: float
    window_latency_s: list[float]
    window_makespan_s: list[float]  # the tasks' makespan of each window (before the bounds)
    model_window_latency_s: dict[tuple[str, int], float]  # last finish of a model in a window
    stages: list[StageFigures]
    chiplet_busy_s: list[float]
    chiplet_utilization: list[float]
    link_bytes: dict[tuple[int, int], float]
    dram_bytes: float
    window_dram_s: list[float]  # DRAM bytes / bandwidth of each window (its DRAM bound)
    window_link_s: list[float]  # busiest link's bytes / bandwidth of each window
    #: each model's latency: the end of its last task, each window's timeline stretched to the
    #: window's latency (docs/evaluation.md, Per-model latency)
    model_latency_s: dict[str, float] = field(default_factory=dict)
    #: per model: latency against its target (costmodel.targets.target_report)
    model_targets: list[dict] = field(default_factory=list)
