"""The vectorized schedule evaluator: a population ``[P, G]`` of genomes at once, in numpy.

It computes docs/evaluation.md exactly, as the reference :func:`costmodel.evaluate.evaluate_schedule`
does one schedule at a time. Pricing is dense over ``[P, L]`` arrays: stages are contiguous runs
along a row, so their sums are ``reduceat`` over run starts; NoP link loads use XY routing on the
mesh: a transfer adds its bytes to a run of horizontal links in the source row and a run of
vertical links in the destination column, accumulated as difference arrays and summed with
``cumsum``. Timing is the flow-shop recursion over the stages, padded to ``[P, S]`` and run as a
loop over (micro-batch, stage position) whose body is vectorized over the individuals.
"""

from __future__ import annotations

import numpy as np

from .compiled import PJ, CompiledProblem, repair_genomes
from .results import BatchResult
from .stages import group_runs, stage_runs


def _runs(x: np.ndarray, starts: np.ndarray, op) -> np.ndarray:
    return op.reduceat(x, starts) if len(starts) else np.zeros(0)


def evaluate_batch(
    cp: CompiledProblem, genomes: np.ndarray, *, detail: bool = True, models: bool = False
) -> BatchResult:
    """Evaluate genomes ``[P, G]`` (repaired first, see :func:`costmodel.compiled.repair_genomes`);
    each model's latency is computed with ``detail`` or ``models``."""
    g = repair_genomes(cp, genomes)
    P, L = len(g), cp.n_layers
    W, n = cp.max_windows, cp.n_chiplets
    R, Cn = cp.rows, cp.cols
    K, O = cp.n_classes, cp.n_options
    C, Wn = g[:, :L], g[:, L : 2 * L]
    MBf = g[:, 2 * L :]
    rows = np.arange(P)[:, None]
    model = cp.model[None, :]
    opt = np.take_along_axis(MBf, model * W + Wn, axis=1)
    bp = cp.bsize.ravel()[model * O + opt].astype(np.float64)
    nmb = cp.batch[cp.model][None, :] / bp
    cls = cp.placement[C]
    cr, cc = np.divmod(C, Cn)  # chiplet row and column
    pw = rows * W + Wn
    lidx = (np.arange(L)[None, :] * K + cls) * O + opt
    t_comp = cp.t.ravel()[lidx]
    e_comp = (cp.e.ravel()[lidx] * nmb).sum(axis=1)
    e_mac = (cp.e_mac.ravel()[lidx] * nmb).sum(axis=1)

    extra = np.zeros((P, L))  # transfer seconds per micro-batch charged to each layer
    dram_l = np.zeros((P, L))  # DRAM bytes (all micro-batches) routed via each layer's chiplet
    hop_s = cp.nop_hop_s
    dhop = cp.dram_hops[C]
    dram_t = cp.dram_latency_s + dhop * hop_s  # fixed part of a DRAM transfer from each layer

    # model inputs and outputs go through DRAM
    for sel, per_sample in (
        (np.flatnonzero(cp.first), cp.in_ps),
        (np.flatnonzero(cp.last), cp.out_ps),
    ):
        nb = per_sample[sel] * bp[:, sel]
        extra[:, sel] += nb / cp.dram_bw + dram_t[:, sel]
        dram_l[:, sel] += nb * nmb[:, sel]

    # activation edges: chain (l-1 -> l) as dense shifted slices, skips as small gathers
    nop_parts = []  # (src row, src col, dst row, dst col, pw of dst, total bytes) of NoP transfers
    nf = ~cp.first[1:]
    same_w = (Wn[:, 1:] == Wn[:, :-1]) & nf
    cross_w = (Wn[:, 1:] != Wn[:, :-1]) & nf
    nop = same_w & (C[:, 1:] != C[:, :-1])
    out_prev = cp.out_ps[:-1][None, :]
    nb = out_prev * bp[:, 1:]
    hops = np.abs(cr[:, 1:] - cr[:, :-1]) + np.abs(cc[:, 1:] - cc[:, :-1])
    extra[:, 1:] += np.where(nop, nb / cp.nop_bw + hops * hop_s, 0.0)
    nop_bytes = np.where(nop, nb * nmb[:, 1:], 0.0)
    nop_parts.append((cr[:, :-1], cc[:, :-1], cr[:, 1:], cc[:, 1:], pw[:, 1:], nop_bytes))
    e_hop_bytes = (nop_bytes * hops).sum(axis=1)
    wr = out_prev * bp[:, :-1]  # written by the producer at its micro-batch
    extra[:, :-1] += np.where(cross_w, wr / cp.dram_bw + dram_t[:, :-1], 0.0)
    extra[:, 1:] += np.where(cross_w, nb / cp.dram_bw + dram_t[:, 1:], 0.0)
    dram_l[:, :-1] += np.where(cross_w, wr * nmb[:, :-1], 0.0)
    dram_l[:, 1:] += np.where(cross_w, nb * nmb[:, 1:], 0.0)
    if len(cp.skip_src):
        a, b = cp.skip_src, cp.skip_dst
        sw = Wn[:, a] == Wn[:, b]
        snop = sw & (C[:, a] != C[:, b])
        nb_s = cp.out_ps[a][None, :] * bp[:, b]
        h = np.abs(cr[:, a] - cr[:, b]) + np.abs(cc[:, a] - cc[:, b])
        sb = np.where(snop, nb_s * nmb[:, b], 0.0)
        nop_parts.append((cr[:, a], cc[:, a], cr[:, b], cc[:, b], pw[:, b], sb))
        e_hop_bytes += (sb * h).sum(axis=1)
        wr_s = cp.out_ps[a][None, :] * bp[:, a]
        at_a, at_b = (rows * L + a).ravel(), (rows * L + b).ravel()
        extra += np.bincount(
            np.concatenate([at_b, at_a, at_b]),
            np.concatenate(
                [
                    np.where(snop, nb_s / cp.nop_bw + h * hop_s, 0.0).ravel(),
                    np.where(~sw, wr_s / cp.dram_bw + dram_t[:, a], 0.0).ravel(),
                    np.where(~sw, nb_s / cp.dram_bw + dram_t[:, b], 0.0).ravel(),
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
    wb = np.broadcast_to(cp.w_bytes, (P, L))
    resident = np.bincount(wc.ravel(), wb.ravel(), minlength=P * W * n)[wc]
    l2 = cp.l2[cls]
    fits = resident <= l2
    room = np.maximum(l2 - np.where(fits, resident, 0.0), 0.0)
    spill = np.maximum((cp.in_ps + cp.out_ps)[None, :] * bp - room, 0.0)
    extra += 2 * spill / cp.dram_bw
    dram_l += 2 * spill * nmb

    # stages: maximal runs of one model, window and chiplet
    starts = np.flatnonzero(stage_runs(C, Wn, cp.first))
    s_wb = _runs(wb.ravel(), starts, np.add)
    fp, fl = np.divmod(starts, L)
    s_fit, s_nmb = fits[fp, fl], nmb[fp, fl]
    s_wt = np.where(s_wb > 0, s_wb / cp.dram_bw + dram_t[fp, fl], 0.0)
    # per-micro-batch weight reloads and one-time loads, placed on each stage's first layer
    t_full = t_comp + extra
    t_full.ravel()[starts] += np.where(s_fit, 0.0, s_wt)
    s_once = np.where(s_fit, s_wt, 0.0)
    once: np.ndarray = np.zeros(P * L)
    once[starts] = s_once
    once = once.reshape(P, L)
    dram_l.ravel()[starts] += np.where(s_fit, s_wb, s_wb * s_nmb)
    e_hop_bytes += (dram_l * dhop).sum(axis=1)  # DRAM traffic crosses hops to the edge
    s_t = _runs(t_full.ravel(), starts, np.add)

    per_model = detail or models
    s_wc = wc.ravel()[starts]
    free, s_fin = _flow_shop(
        P,
        W * n,
        fp,
        s_wc,
        s_t,
        s_once,
        np.rint(s_nmb).astype(np.int64),
        group_runs(Wn, cp.first).ravel()[starts],
        per_model,
    )
    makespan = free.reshape(P, W, n).max(axis=2)

    busy = np.bincount(wc.ravel(), (nmb * t_full + once).ravel(), minlength=P * W * n)
    busy_total = busy.reshape(P, W, n).sum(axis=1)
    dram = np.bincount(pw.ravel(), dram_l.ravel(), minlength=P * W).reshape(P, W)

    # link loads per (p, window): NoP transfers, and DRAM traffic to the nearest edge column
    link_h, link_v = _link_loads(nop_parts, dram_l, cr, cc, pw, P * W, R, Cn)
    link_max = np.zeros(P * W)
    if link_h.size:
        link_max = np.maximum(link_max, link_h.reshape(P * W, -1).max(axis=1))
    if link_v.size:
        link_max = np.maximum(link_max, link_v.reshape(P * W, -1).max(axis=1))
    win = np.maximum.reduce([makespan, dram / cp.dram_bw, link_max.reshape(P, W) / cp.nop_bw])
    latency = win.sum(axis=1)
    model_lat: np.ndarray = np.zeros((P, 0))
    if per_model:
        # each stage's last finish, its window's timeline stretched to the window's latency
        scale = np.divide(win, makespan, out=np.ones_like(win), where=makespan > 0)
        start = np.cumsum(win, axis=1) - win
        s_pw = s_wc // n
        at = start.ravel()[s_pw] + s_fin * scale.ravel()[s_pw]
        M = len(cp.batch)
        model_lat = np.zeros(P * M)
        np.maximum.at(model_lat, fp * M + cp.model[fl], at)
        model_lat = model_lat.reshape(P, M)
    total_dram = dram.sum(axis=1)
    e_nop = e_hop_bytes * 8 * cp.nop_pj_per_bit * PJ
    e_dram = total_dram * 8 * cp.dram_pj_per_bit * PJ
    energy = e_comp + e_nop + e_dram
    links = _per_link(cp, link_h, link_v, P, W)
    period = np.maximum.reduce(
        [
            busy_total.max(axis=1),
            total_dram / cp.dram_bw,
            links.max(axis=1, initial=0.0) / cp.nop_bw,
        ]
    )
    empty = np.zeros((P, 0))
    return BatchResult(
        latency_s=latency,
        energy_j=energy,
        energy_compute_j=e_mac,
        energy_onchip_j=e_comp - e_mac,
        energy_nop_j=e_nop,
        energy_dram_j=e_dram,
        edp=energy * latency,
        throughput=cp.batch.sum() / period,
        window_latency_s=win if detail else empty,
        chiplet_busy_s=busy_total if detail else empty,
        link_bytes=links if detail else empty,
        dram_bytes=total_dram,
        model_latency_s=model_lat,
    )


def _flow_shop(
    P, slots, s_p, s_wc, s_t, s_once, s_nmb, s_first, stage_ends: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Each (individual, window, chiplet) slot's finish time under the fixed-order policy
    (docs/evaluation.md), ``[P * slots]``, from the stages in global order: individual ``s_p``,
    slot ``s_wc``, time per micro-batch ``s_t``, one-time load ``s_once``, micro-batches
    ``s_nmb``, ``s_first``: the stage starts its group. With ``stage_ends`` also each stage's
    last finish (window-relative, in the input's order), else an empty array."""
    free = np.zeros(P * slots + 1)  # the last slot absorbs the padding
    free[: P * slots] = np.bincount(s_wc, s_once, minlength=P * slots)  # loads back to back
    if not len(s_p):
        return free[:-1], np.zeros(0)
    counts = np.bincount(s_p, minlength=P)
    S = int(counts.max())
    pos = np.arange(len(s_p)) - (np.cumsum(counts) - counts)[s_p]
    WC = np.full((P, S), P * slots, dtype=np.int64)
    T = np.zeros((P, S))
    NMB = np.zeros((P, S), dtype=np.int64)
    FIRST = np.ones((P, S), dtype=bool)
    WC[s_p, pos], T[s_p, pos], NMB[s_p, pos], FIRST[s_p, pos] = s_wc, s_t, s_nmb, s_first
    fin = np.zeros(P)
    last = np.zeros((P, S)) if stage_ends else None
    for j in range(int(NMB.max())):
        live = NMB > j
        for k in np.flatnonzero(live.any(axis=0)):
            a, idx = live[:, k], WC[:, k]
            old = free[idx]
            f = np.maximum(np.where(FIRST[:, k], 0.0, fin), old) + T[:, k]
            free[idx] = np.where(a, f, old)
            fin = np.where(a, f, fin)
            if last is not None:
                last[:, k] = np.where(a, f, last[:, k])
    return free[:-1], (last[s_p, pos] if last is not None else np.zeros(0))


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


def _per_link(cp: CompiledProblem, h, v, P, W):
    """Total bytes per link over all windows, ``[P, n_links]`` in the MCM's ``links`` order."""
    out = np.zeros((P, cp.n_links))
    nh = cp.rows * max(cp.cols - 1, 0)
    nv = cp.cols * max(cp.rows - 1, 0)
    slots = cp.link_of
    if h.size:
        hs = h.reshape(P, W, *h.shape[1:]).sum(axis=1)
        out[:, slots[:nh]] = hs[:, 0].reshape(P, -1)
        out[:, slots[nh : 2 * nh]] = hs[:, 1].reshape(P, -1)
    if v.size:
        vs = v.reshape(P, W, *v.shape[1:]).sum(axis=1)
        out[:, slots[2 * nh : 2 * nh + nv]] = vs[:, 0].reshape(P, -1)
        out[:, slots[2 * nh + nv :]] = vs[:, 1].reshape(P, -1)
    return out
