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


def _step(i, c, o, cc: ChipletClass) -> np.ndarray:
    """One double-buffered step: the max of ingress transfer, compute and egress transfer."""
    return np.maximum(np.maximum(transfer_cycles(i, cc), c), transfer_cycles(o, cc))


def ws(n: LoopNest, cc: ChipletClass) -> Traffic:
    """NVDLA-like weight-stationary (MAESTRO KCP-WS).

    Upper level: K across ``pe_rows`` clusters (spatial folds), then C tiles of ``pe_cols``, the
    R x S window, output Y, X and the batch N innermost; each step is one output pixel of one
    (K fold, C tile). Inside a cluster, C runs across the ``pe_cols`` lanes and each PE computes
    its R x S window; that inner level first loads its inputs and weights, so one upper step
    computes for ``delay(2 * Ct * R * S) + R * S`` cycles. A K advance reloads weights only; a C
    advance reloads the window and the weights; a pixel advance brings the new window columns
    (the whole window when an inner loop wrapped). Partial-sum outputs go up every step.
    """
    rows, cols = cc.pe_rows, cc.pe_cols
    kf, cf = cdiv(n.K, rows), cdiv(n.C, cols)
    k_full = np.minimum(n.K, rows)
    k_edge = n.K - (kf - 1) * rows  # clusters busy in the last K fold
    ct = np.where(cf == 1, n.C, cols)  # a partial last C tile is charged as a full one
    rs = n.R * n.S
    window = ct * rs
    comp = transfer_cycles(2 * window, cc) + rs
    # pixel advances within one (K fold, C tile), by the loop that advanced
    n_n = n.Yo * n.Xo * (n.N - 1)
    n_x = n.Yo * (n.Xo - 1)
    n_y = n.Yo - 1
    in_n = window
    in_x = np.where(n.N > 1, window, ct * n.R * np.minimum(n.stride, n.S))
    in_y = np.where((n.N > 1) | (n.Xo > 1), window, ct * np.minimum(n.stride, n.R) * n.S)

    def folds(kt, count):
        """Cycles and weight traffic of ``count`` K folds with ``kt`` busy clusters each."""
        w = kt * window
        pix = (
            n_n * _step(in_n, comp, kt, cc)
            + n_x * _step(in_x, comp, kt, cc)
            + n_y * _step(in_y, comp, kt, cc)
        )
        cyc = count * (
            cf * pix + (cf - 1) * _step(window + w, comp, kt, cc) + _step(w, comp, kt, cc)
        )
        return cyc, count * cf * w

    has_edge = (k_edge != k_full).astype(np.int64)
    c_full, w_full = folds(k_full, kf - has_edge)
    c_edge, w_edge = folds(k_edge, has_edge)
    # the very first step is no K advance: it loads window and weights, then computes, in sequence
    first = transfer_cycles(window + k_full * window, cc) + comp
    cycles = c_full + c_edge - _step(k_full * window, comp, k_full, cc) + first
    pix_in = n_n * in_n + n_x * in_x + n_y * in_y
    in_reads = kf * cf * (pix_in + window) - (kf - 1) * window  # K advances send no input
    out_writes = n.Yo * n.Xo * n.N * cf * n.K
    out_reads = n.K * ((n.Yi - n.R + 1) * (n.Xi - n.S + 1)) * n.N
    return Traffic(cycles.astype(np.float64), in_reads, w_full + w_edge, out_writes, out_reads)


def os(n: LoopNest, cc: ChipletClass) -> Traffic:
    """ShiDianNao-like output-stationary (MAESTRO YXP-OS).

    Upper level: K, C temporal (one pair per pass), output Y across ``pe_rows`` clusters
    (spatial folds), output X in tiles of ``pe_cols``, batch innermost; inside a cluster, X runs
    across the lanes and each PE accumulates its R x S window, after loading it
    (``delay(xt * R * S + R * S) + R * S`` cycles per upper step). The halo rows between Y
    clusters are shared only when a (k, c) pass starts; every step sends its outputs (partial
    sums) up. A GEMM spreads its M rows over all PEs in one level, one (k, c) pair per step.
    """
    rows, cols, pes = cc.pe_rows, cc.pe_cols, cc.pe_rows * cc.pe_cols
    rs = n.R * n.S
    g = n.is_gemm
    # conv: Y folds over the clusters and X tiles over the lanes; GEMM: M over every PE.
    span = np.where(g, pes, rows)
    yf = cdiv(n.Yo, span)
    y_edge = n.Yo - (yf - 1) * span  # rows busy in the last (or only) Y fold
    y_full = np.where(yf == 1, y_edge, span)
    xf = np.where(g, 1, cdiv(n.Xo, cols))
    xt = np.where(g, 1, np.minimum(n.Xo, cols))  # a partial last X tile is charged as a full one
    xin = (xt - 1) * n.stride + n.S
    x_new = np.where(n.N > 1, xin, np.minimum(cols * n.stride, xin))
    comp = np.where(g, rs, transfer_cycles(xt * rs + rs, cc) + rs)
    # entry of a (k, c) pass: the halo-shared input patch of the first fold (GEMM: one per row)
    # (GEMM: MAESTRO sends M - 1 new inputs, the first PE's row being its neighbour's)
    halo = np.where(g, np.maximum(y_full - 1, 1), ((y_full - 1) * n.stride + n.R) * xin)

    def tile_in(rows_busy, new_cols):
        return np.where(g, rows_busy, rows_busy * n.R * new_cols)

    # step types inside one (k, c) pass after its entry: (count, input, outputs)
    n_mid = yf - 1  # full folds (all folds but the last)
    kinds = (
        (np.maximum(yf - 2, 0), tile_in(y_full, xin), y_full * xt),  # Y, into a full fold
        ((yf > 1).astype(np.int64), tile_in(y_edge, xin), y_edge * xt),  # Y, into the last fold
        (n_mid * (xf - 1), np.where(g, 0, tile_in(y_full, x_new)), y_full * xt),  # X, full fold
        (xf - 1, np.where(g, 0, tile_in(y_edge, x_new)), y_edge * xt),  # X, last fold
        (n_mid * xf * (n.N - 1), tile_in(y_full, xin), y_full * xt),  # N, full folds
        (xf * (n.N - 1), tile_in(y_edge, xin), y_edge * xt),  # N, last fold
    )
    pass_cyc = sum(c * _step(i, comp, o, cc) for c, i, o in kinds)
    pass_in = sum(c * i for c, i, _ in kinds)
    out_entry = y_full * xt
    c_adv = _step(halo + rs, comp, out_entry, cc)
    k_adv = _step(rs, comp, out_entry, cc)
    first = transfer_cycles(halo + rs, cc) + comp
    cycles = n.K * n.C * pass_cyc + n.K * (n.C - 1) * c_adv + (n.K - 1) * k_adv + first
    in_reads = n.K * n.C * (pass_in + halo)
    w_reads = n.K * n.C * rs
    out_writes = n.K * n.C * xt * xf * n.N * n.Yo
    out_reads = n.K * ((n.Yi - n.R + 1) * (n.Xi - n.S + 1)) * n.N
    return Traffic(cycles.astype(np.float64), in_reads, w_reads, out_writes, out_reads)


def _systolic(n: LoopNest, cc: ChipletClass, weight_stationary: bool) -> Traffic:
    """SCALE-Sim v3 stall-free cycles: ``folds * (2R + C + T - 2) - 1`` (WS) or
    ``folds * (R + C + T - 2) - 1`` (OS), with R x C the array and T the temporal dimension."""
    R, C = cc.pe_rows, cc.pe_cols
    pix = n.Yo * n.Xo * n.N
    red = n.R * n.S * n.C
    if weight_stationary:
        row_dim, col_dim, T = red, n.K, pix
        per_fold = 2 * R + C + T - 2
    else:
        row_dim, col_dim, T = pix, n.K, red
        per_fold = R + C + T - 2  # SCALE-Sim v3: equals 2R + T - 2 only on a square array
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


def os_best(n: LoopNest, cc: ChipletClass) -> Traffic:
    """Per layer, the faster of the ``os`` and ``systolic-os`` mappings on the same array."""
    a, b = os(n, cc), systolic_os(n, cc)
    pick = a.cycles <= b.cycles
    return Traffic(
        *(
            np.where(pick, x, y)
            for x, y in zip(
                (a.cycles, a.in_reads, a.w_reads, a.out_writes, a.out_reads),
                (b.cycles, b.in_reads, b.w_reads, b.out_writes, b.out_reads),
            )
        )
    )


MAPPINGS = {
    "ws": ws,
    "os": os,
    "systolic-ws": systolic_ws,
    "systolic-os": systolic_os,
    "os-best": os_best,
}
