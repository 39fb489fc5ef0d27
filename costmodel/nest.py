"""Layers as arrays of loop-nest dimensions, so every dataflow model vectorizes over layers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .workload import Layer


@dataclass(frozen=True)
class LoopNest:
    """Per-group loop bounds of ``n`` layers at a micro-batch (arrays of shape ``[n]``).

    The bounds are integers held as float64, so that products of them (MACs, traffic, steps)
    never overflow as int64 would on large layers; every count below 2**53 stays exact.

    ``K``, ``C`` are per group; ``G`` groups run one after the other. For a GEMM with weights the
    batch is folded into ``Yo`` (M = tokens x batch); for a weight-less GEMM into ``G``; ``N`` is
    then 1. For a convolution ``N`` is the batch (the innermost loop, as NVDLA runs it).
    """

    K: np.ndarray
    C: np.ndarray
    R: np.ndarray
    S: np.ndarray
    Yo: np.ndarray
    Xo: np.ndarray
    stride: np.ndarray
    N: np.ndarray
    G: np.ndarray
    is_conv: np.ndarray  # bool
    is_gemm: np.ndarray  # bool
    is_eltwise: np.ndarray  # bool
    has_weights: np.ndarray  # bool
    vec_ops: np.ndarray  # fused element-wise ops for the whole micro-batch

    @classmethod
    def of(cls, layers: Sequence[Layer], batch: int) -> LoopNest:
        a = {
            f: np.array([getattr(x, f) for x in layers], dtype=np.float64)
            for f in ("K", "C", "R", "S", "Yo", "Xo", "stride", "groups", "vec_ops")
        }
        kind = np.array([x.kind for x in layers])
        gemm = kind == "gemm"
        elt = kind == "eltwise"
        weights = np.array([x.weights for x in layers]) & ~elt
        groups = np.where(elt, 1, a["groups"])
        # A weight-less GEMM (attention) has its own 2nd operand per sample: the batch multiplies
        # the groups. A GEMM with weights shares them: the batch multiplies M.
        fold_m = gemm & weights
        fold_g = gemm & ~weights
        return cls(
            K=a["K"] // groups,
            C=a["C"] // groups,
            R=a["R"],
            S=a["S"],
            Yo=np.where(fold_m, a["Yo"] * float(batch), a["Yo"]),
            Xo=a["Xo"],
            stride=a["stride"],
            N=np.where(gemm, 1.0, float(batch)),
            G=np.where(fold_g, groups * float(batch), groups),
            is_conv=kind == "conv",
            is_gemm=gemm,
            is_eltwise=elt,
            has_weights=weights,
            vec_ops=a["vec_ops"] * float(batch),
        )

    @property
    def Yi(self) -> np.ndarray:
        return (self.Yo - 1) * self.stride + self.R

    @property
    def Xi(self) -> np.ndarray:
        return (self.Xo - 1) * self.stride + self.S

    @property
    def macs(self) -> np.ndarray:
        """MACs of the whole layer (all groups); 0 for element-wise layers."""
        m = self.G * self.K * self.C * self.R * self.S * self.Yo * self.Xo * self.N
        return np.where(self.is_eltwise, 0, m)

    @property
    def weight_elems(self) -> np.ndarray:
        """Elements of the stationary operand (weights, or the 2nd operand of a weight-less GEMM)."""
        return np.where(self.is_eltwise, 0, self.G * self.K * self.C * self.R * self.S)

    @property
    def input_elems(self) -> np.ndarray:
        return self.G * self.C * self.Yi * self.Xi * self.N

    @property
    def output_elems(self) -> np.ndarray:
        return self.G * self.K * self.Yo * self.Xo * self.N


def cdiv(a, b):
    """Ceiling division of integer-valued arrays (int or float64)."""
    return -(-np.asarray(a) // np.asarray(b))
