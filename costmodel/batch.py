"""The vectorized schedule evaluator: a population ``[P, G]`` of genomes at once, in numpy.

Same semantics as :func:`costmodel.evaluate.evaluate_schedule` (the readable reference; the
tests hold the two equal to 1e-9). Work is dense over ``[P, L]`` arrays; stages and model-window
groups are contiguous runs along a row, so their sums and maxima are ``reduceat`` over run starts;
NoP link loads use XY routing on the mesh: a transfer adds its bytes to a run of horizontal links
in the source row and a run of vertical links in the destination column, accumulated as
difference arrays and summed with ``cumsum`` (no per-transfer route tables).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .evaluate import PJ, BatchResult, tables


@dataclass(frozen=True)
class MeshIndex:
    """Directional link ids of a rows x cols mesh, in the MCM's ``links`` order."""

    east: np.ndarray  # [rows, cols-1]: link (r, j) -> (r, j+1)
    west: np.ndarray  # [rows, cols-1]: link (r, j+1) -> (r, j)
    south: np.ndarray  # [cols, rows-1]: link (j, c) -> (j+1, c)
    north: np.ndarray  # [cols, rows-1]: link (j+1, c) -> (j, c)


def mesh_index(mcm) -> MeshIndex:
    ids = {lk: i for i, lk in enumerate(mcm.links)}
    R, Cc = mcm.rows, mcm.cols

    def at(a, b):
        return ids[(a, b)]

    east = np.array([[at(r * Cc + j, r * Cc + j + 1) for j in range(Cc - 1)] for r in range(R)])
    west = np.array([[at(r * Cc + j + 1, r * Cc + j) for j in range(Cc - 1)] for r in range(R)])
    south = np.array([[at(j * Cc + c, (j + 1) * Cc + c) for j in range(R - 1)] for c in range(Cc)])
    north = np.array([[at((j + 1) * Cc + c, j * Cc + c) for j in range(R - 1)] for c in range(Cc)])
    shape_h, shape_v = (R, max(Cc - 1, 0)), (Cc, max(R - 1, 0))
    return MeshIndex(
        east.reshape(shape_h), west.reshape(shape_h), south.reshape(shape_v), north.reshape(shape_v)
    )


def _runs(x: np.ndarray, starts: np.ndarray, op) -> np.ndarray:
    return op.reduceat(x, starts) if len(starts) else np.zeros(0)


def evaluate_batch(problem, genomes: np.ndarray) -> BatchResult:
    """Evaluate valid genomes ``[P, G]`` (see :meth:`costmodel.Problem.evaluate_batch`)."""
    T, mcm, ix = tables(problem), problem.mcm, problem.index
    P, L = len(genomes), problem.n_layers
    M, W, n = problem.n_models, problem.max_windows, mcm.n_chiplets
    R, Cn = mcm.rows, mcm.cols
    K, O = T.t.shape[1], T.t.shape[2]
    g = np.asarray(genomes, dtype=np.int64)
    C, Wn = g[:, :L], g[:, L : 2 * L]
    MBf = g[:, 2 * L :]
    rows = np.arange(P)[:, None]
    model = ix.model[None, :]
    opt = np.take_along_axis(MBf, model * W + Wn, axis=1)
    bp = T.bsize.ravel()[model * O + opt].astype(np.float64)
    nmb = problem.batch[ix.model][None, :] / bp
    cls = T.placement[C]
    cr, cc = np.divmod(C, Cn)  # chiplet row and column
    pw = rows * W + Wn
    lidx = (np.arange(L)[None, :] * K + cls) * O + opt
    t_comp = T.t.ravel()[lidx]
    e_comp = (T.e.ravel()[lidx] * nmb).sum(axis=1)
    e_mac = (T.e_mac.ravel()[lidx] * nmb).sum(axis=1)

    extra = np.zeros((P, L))  # transfer seconds per micro-batch charged to each layer
    dram_l = np.zeros((P, L))  # DRAM bytes (all micro-batches) routed via each layer's chiplet
    dlat = mcm.dram_latency_s
    hop_s = mcm.nop_hop_s
    dhop = np.minimum(cc, Cn - 1 - cc).astype(np.float64)
    dram_t = dlat + dhop * hop_s  # fixed part of a DRAM transfer from each layer's chiplet

    # model inputs and outputs go through DRAM
    for sel, per_sample in ((np.nonzero(ix.first)[0], T.in_ps), (np.nonzero(ix.last)[0], T.out_ps)):
        nb = per_sample[sel] * bp[:, sel]
        extra[:, sel] += nb / mcm.dram_bw + dram_t[:, sel]
        dram_l[:, sel] += nb * nmb[:, sel]

    # activation edges: chain (l-1 -> l) as dense shifted slices, skips as small gathers
    nop_parts = []  # (src row, src col, dst row, dst col, pw of dst, total bytes) of NoP transfers
    nf = ~ix.first[1:]
    same_w = (Wn[:, 1:] == Wn[:, :-1]) & nf
    cross_w = (Wn[:, 1:] != Wn[:, :-1]) & nf
    nop = same_w & (C[:, 1:] != C[:, :-1])
    out_prev = T.out_ps[:-1][None, :]
    nb = out_prev * bp[:, 1:]
    hops = np.abs(cr[:, 1:] - cr[:, :-1]) + np.abs(cc[:, 1:] - cc[:, :-1])
    extra[:, 1:] += np.where(nop, nb / mcm.nop_bw + hops * hop_s, 0.0)
    nop_bytes = np.where(nop, nb * nmb[:, 1:], 0.0)
    nop_parts.append((cr[:, :-1], cc[:, :-1], cr[:, 1:], cc[:, 1:], pw[:, 1:], nop_bytes))
    e_hop_bytes = (nop_bytes * hops).sum(axis=1)
    wr = out_prev * bp[:, :-1]  # written by the producer at its micro-batch
    extra[:, :-1] += np.where(cross_w, wr / mcm.dram_bw + dram_t[:, :-1], 0.0)
    extra[:, 1:] += np.where(cross_w, nb / mcm.dram_bw + dram_t[:, 1:], 0.0)
    dram_l[:, :-1] += np.where(cross_w, wr * nmb[:, :-1], 0.0)
    dram_l[:, 1:] += np.where(cross_w, nb * nmb[:, 1:], 0.0)
    skip = ix.edge_src != ix.edge_dst - 1
    if skip.any():
        a, b = ix.edge_src[skip], ix.edge_dst[skip]
        sw = Wn[:, a] == Wn[:, b]
        snop = sw & (C[:, a] != C[:, b])
        nb_s = T.out_ps[a][None, :] * bp[:, b]
        h = np.abs(cr[:, a] - cr[:, b]) + np.abs(cc[:, a] - cc[:, b])
        sb = np.where(snop, nb_s * nmb[:, b], 0.0)
        nop_parts.append((cr[:, a], cc[:, a], cr[:, b], cc[:, b], pw[:, b], sb))
        e_hop_bytes += (sb * h).sum(axis=1)
        wr_s = T.out_ps[a][None, :] * bp[:, a]
        at_a, at_b = (rows * L + a).ravel(), (rows * L + b).ravel()
        extra += np.bincount(
            np.concatenate([at_b, at_a, at_b]),
            np.concatenate(
                [
                    np.where(snop, nb_s / mcm.nop_bw + h * hop_s, 0.0).ravel(),
                    np.where(~sw, wr_s / mcm.dram_bw + dram_t[:, a], 0.0).ravel(),
                    np.where(~sw, nb_s / mcm.dram_bw + dram_t[:, b], 0.0).ravel(),
                ]
            ),
            minlength=P * L,
        ).reshape(P, L)
        dram_l += np.bincount(
            np.concatenate([at_a, at_b]),
            np.concatenate(
                [
                    np.where(~sw, wr_s * nmb[:, a], 0.0).ravel(),
                    np.where(~sw, nb_s * nmb[:, b], 0.0).ravel(),
                ]
            ),
            minlength=P * L,
        ).reshape(P, L)

    # weights resident per (p, window, chiplet); activations that do not fit spill to DRAM
    wc = pw * n + C
    wb = np.broadcast_to(T.w_bytes, (P, L))
    resident = np.bincount(wc.ravel(), wb.ravel(), minlength=P * W * n)[wc]
    l2 = T.l2[cls]
    fits = resident <= l2
    room = np.maximum(l2 - np.where(fits, resident, 0.0), 0.0)
    spill = np.maximum((T.in_ps + T.out_ps)[None, :] * bp - room, 0.0)
    extra += 2 * spill / mcm.dram_bw
    spill_bytes = 2 * spill * nmb

    # stages: maximal runs of one model, window and chiplet
    boundary = np.ones((P, L), dtype=bool)
    boundary[:, 1:] = ~(nf & (Wn[:, 1:] == Wn[:, :-1]) & (C[:, 1:] == C[:, :-1]))
    starts = np.flatnonzero(boundary)
    s_wb = _runs(wb.ravel(), starts, np.add)
    fp, fl = np.divmod(starts, L)
    s_fit, s_nmb = fits[fp, fl], nmb[fp, fl]
    s_wt = np.where(s_wb > 0, s_wb / mcm.dram_bw + dram_t[fp, fl], 0.0)
    # per-micro-batch weight reloads and one-time loads, placed on each stage's first layer
    t_full = t_comp + extra
    t_full.ravel()[starts] += np.where(s_fit, 0.0, s_wt)
    once = np.zeros(P * L)
    once[starts] = np.where(s_fit, s_wt, 0.0)
    once = once.reshape(P, L)
    dram_l.ravel()[starts] += np.where(s_fit, s_wb, s_wb * s_nmb)
    e_hop_bytes += (dram_l * dhop).sum(axis=1)  # DRAM traffic crosses hops to the edge
    s_t = _runs(t_full.ravel(), starts, np.add)

    # model-window groups: runs of one model and window (a row is models in order)
    grp = (rows * M + model) * W + Wn
    gstart = np.ones((P, L), dtype=bool)
    gstart[:, 1:] = grp[:, 1:] != grp[:, :-1]
    gflat = np.flatnonzero(gstart)
    g_in_stages = np.searchsorted(starts, gflat)
    g_max = _runs(s_t, g_in_stages, np.maximum)
    g_sum = _runs((t_full + once).ravel(), gflat, np.add)
    gp, gl = np.divmod(gflat, L)
    g_lat = g_sum + np.maximum(nmb[gp, gl] - 1, 0) * g_max
    model_lat = np.zeros(P * M * W)
    model_lat[grp[gp, gl]] = g_lat
    model_lat = model_lat.reshape(P, M, W).max(axis=1)

    busy = np.bincount(wc.ravel(), (nmb * t_full + once).ravel(), minlength=P * W * n)
    busy = busy.reshape(P, W, n)
    dram_total_l = dram_l + spill_bytes
    dram = np.bincount(pw.ravel(), dram_total_l.ravel(), minlength=P * W).reshape(P, W)

    # link loads per (p, window): NoP transfers, and DRAM traffic to the nearest edge column
    link_h, link_v = _link_loads(nop_parts, dram_l, cr, cc, pw, P * W, R, Cn)
    link_max = np.zeros(P * W)
    if link_h.size:
        link_max = np.maximum(link_max, link_h.reshape(P * W, -1).max(axis=1))
    if link_v.size:
        link_max = np.maximum(link_max, link_v.reshape(P * W, -1).max(axis=1))
    win = np.maximum.reduce(
        [model_lat, busy.max(axis=2), dram / mcm.dram_bw, link_max.reshape(P, W) / mcm.nop_bw]
    )
    latency = win.sum(axis=1)
    total_dram = dram.sum(axis=1)
    e_nop = e_hop_bytes * 8 * mcm.nop_pj_per_bit * PJ
    e_dram = total_dram * 8 * mcm.dram_pj_per_bit * PJ
    energy = e_comp + e_nop + e_dram
    busy_total = busy.sum(axis=1)
    links = _per_link(problem, link_h, link_v, P, W)
    period = np.maximum.reduce(
        [
            busy_total.max(axis=1),
            total_dram / mcm.dram_bw,
            links.max(axis=1, initial=0.0) / mcm.nop_bw,
        ]
    )
    return BatchResult(
        latency_s=latency,
        energy_j=energy,
        energy_compute_j=e_mac,
        energy_onchip_j=e_comp - e_mac,
        energy_nop_j=e_nop,
        energy_dram_j=e_dram,
        edp=energy * latency,
        throughput=problem.batch.sum() / period,
        window_latency_s=win,
        chiplet_busy_s=busy_total,
        link_bytes=links,
        dram_bytes=total_dram,
    )


def _link_loads(nop_parts, dram_l, cr, cc, pw, PW, R, Cn):
    """Bytes on every directional link per (p, window): ``h [PW, 2, R, Cn-1]`` (east, west) and
    ``v [PW, 2, Cn, R-1]`` (south, north), from XY-routed transfers as difference arrays."""
    hk, hw, vk, vw = [], [], [], []

    def horizontal(key, r, c0, c1, b):
        """Bytes ``b`` from column c0 to c1 in row r (links between cols j and j+1)."""
        east = c1 > c0
        lo, hi = np.minimum(c0, c1), np.maximum(c0, c1)
        base = ((key * 2 + (~east)) * R + r) * (Cn + 1)
        hk.extend([(base + lo).ravel(), (base + hi).ravel()])
        hw.extend([b.ravel(), -b.ravel()])

    def vertical(key, c, r0, r1, b):
        south = r1 > r0
        lo, hi = np.minimum(r0, r1), np.maximum(r0, r1)
        base = ((key * 2 + (~south)) * Cn + c) * (R + 1)
        vk.extend([(base + lo).ravel(), (base + hi).ravel()])
        vw.extend([b.ravel(), -b.ravel()])

    for r0, c0, r1, c1, key, b in nop_parts:
        live = np.flatnonzero(b)  # only real transfers
        r0, c0, r1, c1 = r0.ravel()[live], c0.ravel()[live], r1.ravel()[live], c1.ravel()[live]
        key, b = key.ravel()[live], b.ravel()[live]
        horizontal(key, r0, c0, c1, b)  # X first, in the source row
        vertical(key, c1, r0, r1, b)  # then Y, in the destination column
    h = np.zeros((PW, 2, R, Cn - 1))
    v = np.zeros((PW, 2, Cn, R - 1))
    if Cn > 1:
        d = np.bincount(np.concatenate(hk), np.concatenate(hw), minlength=PW * 2 * R * (Cn + 1))
        h = np.cumsum(d.reshape(PW, 2, R, Cn + 1), axis=3, dtype=np.float64)[..., : Cn - 1]
        # DRAM traffic runs from each chiplet along its row to the nearest edge column
        per = np.bincount(
            (pw * (R * Cn) + cr * Cn + cc).ravel(), dram_l.ravel(), minlength=PW * R * Cn
        ).reshape(PW, R, Cn)
        col = np.arange(Cn)
        west = np.where(col <= Cn - 1 - col, per, 0.0)
        east = per - west
        h[:, 0] += np.cumsum(east, axis=2)[..., : Cn - 1]  # east link j carries cols <= j
        h[:, 1] += np.cumsum(west[..., ::-1], axis=2)[..., ::-1][..., 1:]  # west j: cols > j
    if R > 1 and vk:
        d = np.bincount(np.concatenate(vk), np.concatenate(vw), minlength=PW * 2 * Cn * (R + 1))
        v = np.cumsum(d.reshape(PW, 2, Cn, R + 1), axis=3, dtype=np.float64)[..., : R - 1]
    return h, v


def _per_link(problem, h, v, P, W):
    """Total bytes per link over all windows, ``[P, n_links]`` in the MCM's ``links`` order."""
    mi = problem._mesh_index
    out = np.zeros((P, len(problem.mcm.links)))
    if h.size:
        hs = h.reshape(P, W, *h.shape[1:]).sum(axis=1)
        out[:, mi.east.ravel()] = hs[:, 0].reshape(P, -1)
        out[:, mi.west.ravel()] = hs[:, 1].reshape(P, -1)
    if v.size:
        vs = v.reshape(P, W, *v.shape[1:]).sum(axis=1)
        out[:, mi.south.ravel()] = vs[:, 0].reshape(P, -1)
        out[:, mi.north.ravel()] = vs[:, 1].reshape(P, -1)
    return out
