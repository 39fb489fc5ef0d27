"""Lower bounds on a problem's objective that hold for every valid schedule (docs/bounds.md).

They are per-resource work bounds on the semantics of docs/evaluation.md, computed from the
cost table alone (no schedule): every stage time ``t_s`` is at least the compute of its layers
plus the model input/output DRAM transfers charged to them, and every other term (NoP, spills,
reloads, contention) is non-negative. A bound that exceeds a verified schedule's objective is a
bug; ``tests/test_bounds.py`` guards it on every suite instance, on random schedules and on the
baselines. They serve as the reference for the optimality gap on instances too large to solve.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .compiled import PJ


@dataclass(frozen=True)
class Bounds:
    """Lower bounds on latency (s), energy (J) and the throughput period (s per request set:
    one batch of every model), with the terms each is the max or sum of."""

    latency_s: float
    energy_j: float
    period_s: float
    batch_total: int
    terms: dict[str, float] = field(default_factory=dict)

    @property
    def edp(self) -> float:
        """``energy_j * latency_s``: both factors are positive lower bounds."""
        return self.energy_j * self.latency_s

    @property
    def throughput(self) -> float:
        """An upper bound on throughput (inferences per second)."""
        return self.batch_total / self.period_s

    def objective(self, objective: str) -> float:
        """A lower bound on the minimized fitness of ``objective`` (for ``throughput``, seconds
        per inference: 1 / the throughput upper bound)."""
        table = {
            "latency": self.latency_s,
            "energy": self.energy_j,
            "edp": self.edp,
            "throughput": self.period_s / self.batch_total,
        }
        if objective not in table:
            raise ValueError(f"no bound for objective {objective!r}; choices: {', '.join(table)}")
        return float(table[objective])


def lower_bounds(problem) -> Bounds:
    """The :class:`Bounds` of ``problem`` (a :class:`~costmodel.Problem`); O(L K O) numpy."""
    cp = problem.compiled
    ks = np.unique(cp.placement)  # classes that exist on the mesh
    N = cp.n_chiplets
    opt_ok = np.arange(cp.n_options)[None, :] < cp.n_opts[cp.model][:, None]  # [L, O] real options
    bp = cp.bsize[cp.model].astype(np.float64)  # [L, O] micro-batch size
    nmb = cp.batch[cp.model][:, None] / bp  # [L, O] micro-batches
    t_min = cp.t[:, ks, :].min(axis=1)  # [L, O] fastest class per micro-batch
    # model input read / output write per micro-batch, charged to the first / last layer's t_s
    io = np.where(cp.first[:, None], cp.in_ps[:, None] * bp / cp.dram_bw + cp.dram_latency_s, 0.0)
    io = io + np.where(
        cp.last[:, None], cp.out_ps[:, None] * bp / cp.dram_bw + cp.dram_latency_s, 0.0
    )
    per_mb = t_min + io  # [L, O] lower bound on a layer's share of t_s
    inf = np.inf

    def best(x: np.ndarray) -> np.ndarray:
        """Min over a layer's real micro-batch options, ``[L]``."""
        return np.where(opt_ok, x, inf).min(axis=1)

    w_load = cp.w_bytes / cp.dram_bw  # weights cross DRAM at least once
    work = nmb * per_mb  # [L, O] busy time of the layer's chiplet for all micro-batches
    layer_busy = best(work) + w_load  # [L]
    total_work = float(layer_busy.sum())
    # per model: its window time >= max(T, n T / min(N, L_m)) with T its chain's sum of t_s
    depth = np.minimum(N, cp.size[cp.model]).astype(np.float64)[:, None]  # [L, 1]
    chain_layer = best(np.maximum(1.0, nmb / depth) * per_mb)
    chain = np.zeros(cp.n_models)
    np.add.at(chain, cp.model, chain_layer)
    # DRAM bytes no schedule avoids: every model's input and output, every weight once
    b = cp.batch[cp.model].astype(np.float64)
    dram_bytes = float(
        (cp.in_ps * b)[cp.first].sum() + (cp.out_ps * b)[cp.last].sum() + cp.w_bytes.sum()
    )
    dram_s = dram_bytes / cp.dram_bw
    terms = {
        "chain_s": float(chain.max()),
        "work_s": total_work / N,
        "layer_s": float(layer_busy.max()),
        "dram_s": dram_s,
    }
    latency = max(terms.values())
    period = max(terms["work_s"], terms["layer_s"], dram_s)
    e_comp = float(best(cp.e[:, ks, :].min(axis=1) * nmb).sum())
    e_dram = dram_bytes * 8 * cp.dram_pj_per_bit * PJ
    terms.update(energy_compute_j=e_comp, energy_dram_j=e_dram, dram_bytes=dram_bytes)
    return Bounds(
        latency_s=float(latency),
        energy_j=e_comp + e_dram,
        period_s=float(period),
        batch_total=int(cp.batch.sum()),
        terms=terms,
    )


def objective_bound(problem) -> float:
    """A lower bound on ``problem``'s minimized fitness (``ValueError`` for a callable
    objective, which has no bound)."""
    if callable(problem.objective):
        raise ValueError(
            "no bound for a callable objective; choices: latency, energy, edp, throughput"
        )
    return lower_bounds(problem).objective(problem.objective)
