"""Cycle and traffic models of the four dataflows, vectorized over layers.

Each model maps one group of a layer's loop nest onto a PE array and returns, per layer, the
cycles and the L2<->PE traffic (elements) of the mapping. Energy is derived from the traffic in
:mod:`costmodel.cost` the way MAESTRO counts accesses.

``ws`` and ``os`` follow MAESTRO's NVDLA-like KCP-WS and ShiDianNao-like YXP-OS mappings: the
mapping advances through *steps*; each step costs the max of its ingress transfer, its compute and
its egress transfer (double buffering), the first step pays them in sequence, and a transfer of
``T`` elements over the L2->PE network costs ``latency + ceil(T / bw) - 1`` cycles. Steps are
counted by type (which loop advanced) from the trip counts, never looped over.
``systolic-ws`` and ``systolic-os`` follow SCALE-Sim v3's stall-free fold model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .hardware import ChipletClass
from .nest import LoopNest, cdiv


@dataclass(frozen=True)
class Traffic:
    """Per-group cycles and L2<->PE traffic of a mapping (arrays over layers)."""

    cycles: np.ndarray
    in_reads: np.ndarray  # input elements sent L2 -> PEs
    w_reads: np.ndarray  # weight elements sent L2 -> PEs
    out_writes: np.ndarray  # output / partial-sum elements sent PEs -> L2
    out_reads: np.ndarray  # output elements read back from L2 (MAESTRO: output size w/o stride)


def transfer_cycles(elems, cc: ChipletClass) -> np.ndarray:
    """Cycles to move ``elems`` elements over the L2->PE network (0 for none or unconstrained)."""
    elems = np.asarray(elems, dtype=np.float64)
    if cc.noc_bw is None:
        return np.zeros_like(elems)
    t = cc.noc_latency + np.ceil(elems / cc.noc_bw) - 1
    return np.where(elems > 0, np.maximum(t, 0), 0.0)


def _steps(counts, ins, comps, outs, cc: ChipletClass, first) -> np.ndarray:
    """Sum over step types of ``count * max(in, compute, out)``, plus the first step's extra cost.

    ``first`` = ``(in, compute, out)`` of the first step, which pays transfer and compute in
    sequence (nothing to overlap with yet); it is also counted once in ``counts``.
    """
    total = np.zeros_like(np.asarray(counts[0], dtype=np.float64))
    for n, i, c, o in zip(counts, ins, comps, outs):
        step = np.maximum(np.maximum(transfer_cycles(i, cc), c), transfer_cycles(o, cc))
        total = total + np.asarray(n, dtype=np.float64) * step
    fi, fc, fo = first
    seq = transfer_cycles(fi, cc) + fc + transfer_cycles(fo, cc)
    par = np.maximum(np.maximum(transfer_cycles(fi, cc), fc), transfer_cycles(fo, cc))
    return total + seq - par


def ws(n: LoopNest, cc: ChipletClass) -> Traffic:
    """NVDLA-like weight-stationary (MAESTRO KCP-WS): K across ``pe_rows`` clusters, C across
    ``pe_cols`` lanes; each step computes one output pixel's R x S window for a K x C tile."""
    rows, cols = cc.pe_rows, cc.pe_cols
    kf = cdiv(n.K, rows)  # K folds (spatial)
    cf = cdiv(n.C, cols)  # C tiles (temporal)
    kt = np.minimum(n.K, rows)
    ct = np.minimum(n.C, cols)
    rs = n.R * n.S
    pix = n.Yo * n.Xo * n.N
    n_steps = kf * cf * pix
    # Step types: a pixel advance inside a (K fold, C tile); a C-tile advance; a K-fold advance.
    n_c = kf * (cf - 1)
    n_k = kf - 1
    n_pix = n_steps - n_c - n_k - 1
    new_cols = np.minimum(n.stride, n.S)
    in_pix = ct * n.R * new_cols  # sliding window: the new input columns of the C tile
    in_full = ct * rs
    w_tile = kt * ct * rs
    out_pix = kt
    counts = (n_pix, n_c, n_k, np.ones_like(n_k))
    ins = (in_pix, in_full + w_tile, w_tile, in_full + w_tile)
    comps = (rs, rs, rs, rs)
    outs = (out_pix, out_pix, out_pix, out_pix)
    cycles = _steps(counts, ins, comps, outs, cc, (in_full + w_tile, rs, out_pix))
    in_reads = n_pix * in_pix + (n_c + 1) * in_full
    w_reads = (n_c + n_k + 1) * w_tile
    out_writes = n_steps * out_pix
    out_reads = n.K * ((n.Yi - n.R + 1) * (n.Xi - n.S + 1)) * n.N
    return Traffic(cycles, in_reads, w_reads, out_writes, out_reads)


def os(n: LoopNest, cc: ChipletClass) -> Traffic:
    """ShiDianNao-like output-stationary (MAESTRO YXP-OS): output Y across ``pe_rows``, X across
    ``pe_cols``; each step accumulates one (k, c) pair's R x S window into every PE's output.
    A GEMM spreads its M rows over the whole array (``ceil(M / PEs)`` tiles)."""
    rows, cols = cc.pe_rows, cc.pe_cols
    pes = rows * cols
    yf = np.where(n.is_gemm, cdiv(n.Yo, pes), cdiv(n.Yo, rows))
    xf = np.where(n.is_gemm, 1, cdiv(n.Xo, cols))
    yt = np.where(n.is_gemm, np.minimum(n.Yo, pes), np.minimum(n.Yo, rows))
    xt = np.where(n.is_gemm, 1, np.minimum(n.Xo, cols))
    rs = n.R * n.S
    tiles = yf * xf * n.N
    n_steps = tiles * n.K * n.C
    yin = (yt - 1) * n.stride + n.R
    xin = (xt - 1) * n.stride + n.S
    in_tile = yin * xin  # one channel's input patch for the PE tile
    out_tile = yt * xt
    counts = (n_steps,)
    ins = (in_tile + rs,)
    comps = (rs,)
    outs = (out_tile,)
    cycles = _steps(counts, ins, comps, outs, cc, (in_tile + rs, rs, out_tile))
    in_reads = n_steps * in_tile
    w_reads = n_steps * rs
    out_writes = n_steps * out_tile
    out_reads = n.K * ((n.Yi - n.R + 1) * (n.Xi - n.S + 1)) * n.N
    return Traffic(cycles, in_reads, w_reads, out_writes, out_reads)


def _systolic(n: LoopNest, cc: ChipletClass, weight_stationary: bool) -> Traffic:
    """SCALE-Sim v3 stall-free cycles: ``folds * (2R + C + T - 2) - 1`` (WS) or
    ``folds * (2R + T - 2) - 1`` (OS), with R x C the array and T the temporal dimension."""
    R, C = cc.pe_rows, cc.pe_cols
    pix = n.Yo * n.Xo * n.N
    red = n.R * n.S * n.C
    if weight_stationary:
        row_dim, col_dim, T = red, n.K, pix
        per_fold = 2 * R + C + T - 2
    else:
        row_dim, col_dim, T = pix, n.K, red
        per_fold = 2 * R + T - 2
    rf, cf = cdiv(row_dim, R), cdiv(col_dim, C)
    folds = rf * cf
    cycles = folds * per_fold - 1
    if weight_stationary:  # weights once, inputs once per column fold, psums once per row fold
        in_reads, w_reads, out_writes = T * row_dim * cf, row_dim * col_dim, T * col_dim * rf
    else:  # inputs once per column fold, weights once per row fold, outputs once
        in_reads, w_reads, out_writes = row_dim * T * cf, col_dim * T * rf, row_dim * col_dim
    if (
        cc.noc_bw is not None
    ):  # bandwidth-bound folds: ours, SCALE-Sim's calculated mode is stall-free
        moved = in_reads + w_reads + out_writes
        cycles = np.maximum(cycles, folds * cc.noc_latency + np.ceil(moved / cc.noc_bw))
    out_reads = n.K * pix
    return Traffic(cycles.astype(np.float64), in_reads, w_reads, out_writes, out_reads)


def systolic_ws(n: LoopNest, cc: ChipletClass) -> Traffic:
    """TPU-like systolic weight-stationary: rows <- R*S*C, cols <- K, T <- output pixels."""
    return _systolic(n, cc, True)


def systolic_os(n: LoopNest, cc: ChipletClass) -> Traffic:
    """Systolic output-stationary: rows <- output pixels, cols <- K, T <- R*S*C."""
    return _systolic(n, cc, False)


def eltwise(n: LoopNest, cc: ChipletClass) -> Traffic:
    """Pool / norm / add: every output reads its R x S window; memory-bound on the L2->PE network."""
    ops = n.K * n.Yo * n.Xo * n.N * n.R * n.S
    compute = cdiv(ops, cc.pes).astype(np.float64)
    in_reads = n.input_elems // n.G
    out_writes = n.K * n.Yo * n.Xo * n.N
    cycles = np.maximum(compute, transfer_cycles(in_reads + out_writes, cc))
    return Traffic(cycles, in_reads, np.zeros_like(in_reads), out_writes, np.zeros_like(in_reads))


MAPPINGS = {"ws": ws, "os": os, "systolic-ws": systolic_ws, "systolic-os": systolic_os}
