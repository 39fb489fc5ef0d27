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

from dataclasses import dataclass, fields
from typing import Any

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
    in_size: np.ndarray  # input elements the mapping reads from L2 (written there once)


def transfer_cycles(elems, cc: ChipletClass) -> np.ndarray:
    """Cycles to move ``elems`` elements over the L2->PE network: ``latency + ceil(T / bw) - 1``.

    With ``noc_bw=None`` (unconstrained bandwidth) a transfer still pays its latency, as in
    MAESTRO, whose "unconstrained" is a huge bandwidth: ``latency`` cycles for any ``T > 0``.
    Moving nothing costs 0 (MAESTRO says ``latency - 1``, but every step it charges also sends
    outputs, which costs at least ``latency``, so the difference never shows).
    """
    elems = np.asarray(elems, dtype=np.float64)
    if cc.noc_bw is None:
        return np.where(elems > 0, float(cc.noc_latency), 0.0)
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
    (the whole window when an inner loop wrapped). Partial-sum outputs go up every step, from
    every busy cluster but, in MAESTRO's count, the last one of a single partial K fold.
    """
    rows, cols = cc.pe_rows, cc.pe_cols
    kf, cf = cdiv(n.K, rows), cdiv(n.C, cols)
    k_full = np.minimum(n.K, rows)
    k_edge = n.K - (kf - 1) * rows  # clusters busy in the last K fold
    k_out = np.where((n.K > 1) & (n.K < rows), n.K - 1, k_full)  # clusters whose outputs count
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
        out = np.minimum(kt, k_out)
        pix = (
            n_n * _step(in_n, comp, out, cc)
            + n_x * _step(in_x, comp, out, cc)
            + n_y * _step(in_y, comp, out, cc)
        )
        cyc = count * (
            cf * pix + (cf - 1) * _step(window + w, comp, out, cc) + _step(w, comp, out, cc)
        )
        return cyc, count * cf * w

    has_edge = (k_edge != k_full).astype(np.int64)
    c_full, w_full = folds(k_full, kf - has_edge)
    c_edge, w_edge = folds(k_edge, has_edge)
    # the very first step is no K advance: it loads window and weights, then computes, in sequence
    first = transfer_cycles(window + k_full * window, cc) + comp
    cycles = c_full + c_edge - _step(k_full * window, comp, k_out, cc) + first
    pix_in = n_n * in_n + n_x * in_x + n_y * in_y
    in_reads = kf * cf * (pix_in + window) - (kf - 1) * window  # K advances send no input
    out_writes = n.Yo * n.Xo * n.N * cf * (n.K - k_full + k_out)
    out_reads = n.K * ((n.Yi - n.R + 1) * (n.Xi - n.S + 1)) * n.N
    return Traffic(
        cycles.astype(np.float64),
        in_reads,
        w_full + w_edge,
        out_writes,
        out_reads,
        n.input_elems / n.G,
    )


def os(n: LoopNest, cc: ChipletClass) -> Traffic:
    """ShiDianNao-like output-stationary (MAESTRO YXP-OS), as MAESTRO counts it.

    Upper level: K, C temporal (one pair per pass), output Y across ``pe_rows`` clusters
    (spatial folds), output X in tiles of ``pe_cols``, batch innermost; inside a cluster, X runs
    across the lanes and each PE accumulates its R x S window after loading it, so one upper step
    computes for ``delay(xt * R * S + R * S) + R * S`` cycles (a partial last X tile is charged as
    a full one). A GEMM spreads its M rows over all PEs in one level and computes one MAC a step.

    Each step type below is one of MAESTRO's iteration cases, named by the innermost loop that
    advanced, with the traffic MAESTRO's reuse analysis gives it: the first step sends every
    cluster its R input rows; a K advance sends weights only; a C advance sends the halo-shared
    patch (MAESTRO's last cluster of a single partial Y fold gets no new row); a Y advance sends
    the shared patch only when no X tile or batch loop lies inside it, else R rows per cluster; an
    X advance sends the next ``pe_cols * stride`` input columns (the whole tile when a batch loop
    lies inside); a batch advance sends whole tiles. Every step sends its outputs (partial sums)
    up; those of a partial last X tile are its real size. (Where the last Y fold has a single
    busy cluster, MAESTRO counts R rows of MACs and outputs for it; we count the real ones.)
    A conv whose window is narrower than its stride reads only the rows and columns its windows
    touch: it runs as its stride-1 equivalent on the subsampled input (MAESTRO itself miscounts
    strided layers under this mapping; docs/design.md, Pitfalls).
    """
    rows, cols = cc.pe_rows, cc.pe_cols
    g = n.is_gemm
    rs = n.R * n.S
    sy, sx = np.minimum(n.stride, n.R), np.minimum(n.stride, n.S)  # strides the windows see
    # Y (GEMM: M) across the clusters (GEMM: every PE): the first fold, further full folds
    # ("steady") and a partial last fold ("edge"), with their busy clusters and counts.
    span = np.where(g, rows * cols, rows)
    y_first = np.minimum(n.Yo, span)
    n_ys = np.where(n.Yo > span, n.Yo // span - 1, 0)
    y_last = n.Yo % span
    n_ye = ((n.Yo > span) & (y_last > 0)).astype(np.float64)
    # X in tiles of ``cols`` output columns (GEMM: X = 1, one tile), likewise.
    multi = n.Xo > cols
    xt = np.minimum(n.Xo, cols)
    xm = (xt - 1) * sx + n.S  # input columns of a tile (the whole width for a single tile)
    n_xs = np.where(multi, n.Xo // cols - 1, 0)
    x_last = n.Xo % cols
    n_xe = (multi & (x_last > 0)).astype(np.float64)
    x_new = np.where(n.N > 1, xm, np.minimum(cols * sx, xm))  # columns an X advance sends
    comp = np.where(g, rs, transfer_cycles(xt * rs + rs, cc) + rs)

    def patch(busy):
        """Input rows of ``busy`` clusters sharing their halo rows."""
        return n.R + (busy - 1) * sy

    # Y states (count, busy clusters) and X states (count, output columns)
    # (count, size) pairs mixing scalars and per-layer arrays: numpy broadcasts them alike
    States = tuple[tuple[Any, Any], ...]
    y_states: States = ((1.0, y_first), (n_ys, span), (n_ye, y_last))
    x_states: States = ((1.0, xt), (n_xs, cols), (n_xe, x_last))

    def step(inp, out):
        return np.maximum(np.maximum(transfer_cycles(inp, cc), comp), transfer_cycles(out, cc))

    k, c = n.K, n.C
    first_in = y_first * n.R * xm
    single_y = n.Yo < span  # one partial Y fold: MAESTRO's last cluster gets no new row
    c_rows = np.where(single_y, patch(np.maximum(n.Yo - 1, 1)), patch(span))
    out0 = y_first * xt
    kinds = [  # (count, input elements, weight elements, output elements)
        (k - 1, 0.0, rs, out0),  # K advance
        (k * (c - 1), c_rows * xm, rs, out0),  # C advance
    ]
    y_shared = ~multi & (n.N == 1)  # no X tile or batch loop inside Y: the halo is shared
    for cnt, busy in y_states[1:]:  # Y advance
        inp = np.where(y_shared, patch(busy), busy * n.R) * xm
        kinds.append((k * c * cnt, inp, 0.0, busy * xt))
    for ycnt, busy in y_states:
        for xcnt, xo in x_states[1:]:  # X advance
            kinds.append((k * c * ycnt * xcnt, busy * n.R * x_new, 0.0, busy * xo))
        for xcnt, xo in x_states:  # batch advance
            kinds.append((k * c * (n.N - 1) * ycnt * xcnt, busy * n.R * xm, 0.0, busy * xo))
    cycles = transfer_cycles(first_in + rs, cc) + comp
    in_reads, out_writes = first_in, out0
    for cnt, inp, w, out in kinds:
        cycles = cycles + cnt * step(inp + w, out)
        in_reads = in_reads + cnt * inp
        out_writes = out_writes + cnt * out
    yi = (n.Yo - 1) * sy + n.R  # input rows and columns the windows touch
    xi = (n.Xo - 1) * sx + n.S
    out_reads = n.K * ((yi - n.R + 1) * (xi - n.S + 1)) * n.N
    return Traffic(
        cycles.astype(np.float64),
        in_reads,
        n.K * n.C * rs,
        out_writes,
        out_reads,
        n.C * yi * xi * n.N,
    )


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
    # Ours (SCALE-Sim's calculated mode is stall-free): no faster than the L2->PE network moves
    # the traffic, each fold paying the transfer latency (that alone with unconstrained bandwidth).
    moved = in_reads + w_reads + out_writes
    stream = 0.0 if cc.noc_bw is None else np.ceil(moved / cc.noc_bw)
    cycles = np.maximum(cycles, folds * cc.noc_latency + stream)
    out_reads = n.K * pix
    return Traffic(
        cycles.astype(np.float64), in_reads, w_reads, out_writes, out_reads, n.input_elems / n.G
    )


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
    in_reads = n.input_elems / n.G
    out_writes = n.K * n.Yo * n.Xo * n.N
    cycles = np.maximum(compute, transfer_cycles(in_reads + out_writes, cc))
    zero = np.zeros_like(in_reads)
    return Traffic(cycles, in_reads, zero, out_writes, zero, in_reads)


def os_best(n: LoopNest, cc: ChipletClass) -> Traffic:
    """Per layer, the faster of the ``os`` and ``systolic-os`` mappings on the same array."""
    a, b = os(n, cc), systolic_os(n, cc)
    return pick(a.cycles <= b.cycles, a, b)


def pick(where: np.ndarray, a: Traffic, b: Traffic) -> Traffic:
    """Per layer, ``a`` where ``where`` holds, else ``b``."""
    return Traffic(*(np.where(where, getattr(a, f.name), getattr(b, f.name)) for f in fields(a)))


MAPPINGS = {
    "ws": ws,
    "os": os,
    "systolic-ws": systolic_ws,
    "systolic-os": systolic_os,
    "os-best": os_best,
}
