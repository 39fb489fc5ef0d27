"""Per-layer cost: cycles, accesses, bytes and energy of layers on a chiplet class, and the cached
``[layer, class]`` table every schedule evaluation indexes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields

import numpy as np

from .dataflows import MAPPINGS, Traffic, eltwise, pick
from .errors import check_at_most, check_positive_int
from .hardware import ChipletClass
from .nest import LoopNest, cdiv
from .workload import MAX_DIM, Layer, Workload


@dataclass(frozen=True)
class CostArrays:
    """Costs of ``n`` layers on one chiplet class at one micro-batch (float64 arrays ``[n]``).

    Accesses are element counts. Energy follows MAESTRO: ``MACs + l1_rel * L1 + l2_rel * L2``
    accesses, in units of one MAC's energy, times ``mac_pj``; fused element-wise ops count as MACs.
    """

    cycles: np.ndarray
    macs: np.ndarray
    vec_ops: np.ndarray
    l1_reads: np.ndarray
    l1_writes: np.ndarray
    l2_reads: np.ndarray
    l2_writes: np.ndarray
    weight_bytes: np.ndarray
    input_bytes: np.ndarray
    output_bytes: np.ndarray
    energy_mac_pj: np.ndarray
    energy_l1_pj: np.ndarray
    energy_l2_pj: np.ndarray
    energy_pj: np.ndarray
    latency_s: np.ndarray
    utilization: np.ndarray


@dataclass(frozen=True)
class LayerCost:
    """Cost of one layer on one chiplet class at one micro-batch (scalars; see :class:`CostArrays`)."""

    cycles: float
    macs: float
    vec_ops: float
    l1_reads: float
    l1_writes: float
    l2_reads: float
    l2_writes: float
    weight_bytes: float
    input_bytes: float
    output_bytes: float
    energy_mac_pj: float
    energy_l1_pj: float
    energy_l2_pj: float
    energy_pj: float
    latency_s: float
    utilization: float

    @property
    def energy_mac_units(self) -> float:
        """Energy in MAC units, as MAESTRO prints it."""
        return (self.energy_mac_pj + self.energy_l1_pj + self.energy_l2_pj) / 0.23


def _combine(n: LoopNest, cc: ChipletClass, t: Traffic) -> CostArrays:
    """Scale a per-group mapping to the whole layer, add fused ops, and count accesses and energy."""
    G = n.G.astype(np.float64)
    vec_cycles = cdiv(n.vec_ops, cc.pes).astype(np.float64)
    cycles = G * t.cycles + vec_cycles
    macs = n.macs.astype(np.float64)
    vec = n.vec_ops.astype(np.float64)
    w_size = n.weight_elems.astype(np.float64)
    in_size = n.input_elems.astype(np.float64)
    ingress = G * (t.in_reads + t.w_reads)
    egress = G * t.out_writes
    # MAESTRO's access counts: L1 reads of input, weight and output, and L1 writes of the output,
    # each = MACs; L1 writes of input and weights = their L2 reads (the ingress traffic); L2 writes of
    # input and weights = the tensor sizes (the input as the mapping reads it); L2 reads of the
    # output = its size without the stride; L2 writes of the output = the egress traffic. Fused
    # ops read and write L1 once each.
    l1_reads = 3 * macs + vec
    l1_writes = macs + ingress + vec
    l2_reads = ingress + G * t.out_reads
    l2_writes = G * t.in_size + w_size + egress
    e_mac = (macs + vec) * cc.mac_pj
    e_l1 = (l1_reads + l1_writes) * cc.l1_rel * cc.mac_pj
    e_l2 = (l2_reads + l2_writes) * cc.l2_rel * cc.mac_pj
    weight_bytes = np.where(n.has_weights, w_size, 0.0) * cc.data_bytes
    act_in = in_size + np.where(n.has_weights | n.is_eltwise, 0.0, w_size)
    util = np.where(cycles > 0, (macs + vec) / (np.maximum(cycles, 1) * cc.pes), 0.0)
    return CostArrays(
        cycles=cycles,
        macs=macs,
        vec_ops=vec,
        l1_reads=l1_reads,
        l1_writes=l1_writes,
        l2_reads=l2_reads,
        l2_writes=l2_writes,
        weight_bytes=weight_bytes,
        input_bytes=act_in * cc.data_bytes,
        output_bytes=n.output_elems.astype(np.float64) * cc.data_bytes,
        energy_mac_pj=e_mac,
        energy_l1_pj=e_l1,
        energy_l2_pj=e_l2,
        energy_pj=e_mac + e_l1 + e_l2,
        latency_s=cycles / cc.clock_hz,
        utilization=util,
    )


def layer_costs(layers: Sequence[Layer], cc: ChipletClass, batch: int = 1) -> CostArrays:
    """Costs of ``layers`` on chiplet class ``cc`` at micro-batch ``batch``, vectorized over layers."""
    check_positive_int("batch", batch)
    check_at_most("batch", batch, MAX_DIM)
    n = LoopNest.of(layers, batch)
    t = MAPPINGS[cc.dataflow](n, cc)
    if n.is_eltwise.any():
        t = pick(n.is_eltwise, eltwise(n, cc), t)
    return _combine(n, cc, t)


def layer_cost(layer: Layer, cc: ChipletClass, batch: int = 1) -> LayerCost:
    """Cost of one layer on chiplet class ``cc`` at micro-batch ``batch``."""
    arr = layer_costs([layer], cc, batch)
    return LayerCost(**{f.name: float(getattr(arr, f.name)[0]) for f in fields(CostArrays)})


class CostTable:
    """Cached per-layer costs of a workload on a set of chiplet classes.

    ``table.model(m, b)`` gives :class:`CostArrays` whose arrays are ``[layers of model m, classes]``
    at micro-batch ``b``; computed once per (model, micro-batch) and reused.
    """

    def __init__(self, workload: Workload, classes: Sequence[ChipletClass]) -> None:
        self.workload = workload
        self.classes = tuple(classes)
        self._cache: dict[tuple[int, int], CostArrays] = {}

    def model(self, m: int, batch: int) -> CostArrays:
        key = (m, int(batch))
        if key not in self._cache:
            layers = self.workload.models[m].layers
            per_class = [layer_costs(layers, cc, int(batch)) for cc in self.classes]
            self._cache[key] = CostArrays(
                **{
                    f.name: np.stack([getattr(c, f.name) for c in per_class], axis=1)
                    for f in fields(CostArrays)
                }
            )
        return self._cache[key]
