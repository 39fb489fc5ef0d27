"""Schedule evaluation (DESIGN.md section 7): one schedule in detail, or a population vectorized.

Per micro-batch, a stage costs the compute of its layers plus the transfers charged to it: an
activation (chain or skip) from another chiplet in the same window crosses the NoP
(``bytes / link_bw + hops * hop_s``) and is charged to the consumer; one from an earlier window
goes through DRAM (written by the producer, read by the consumer, each
``bytes / dram_bw + dram_latency + hops_to_edge * hop_s``); model inputs are read from and model
outputs written to DRAM. Activations of a layer that do not fit its chiplet's L2 beside the
resident weights spill to DRAM and come back. Weights come from DRAM once per window when all
stages on the chiplet fit its L2 (a one-time cost of the window), otherwise again every
micro-batch. A model in a window takes ``sum(stages) + (n_mb - 1) * max(stages)`` plus its
one-time weight loads. A window lasts the max of its models, each chiplet's busy time, DRAM
bytes / DRAM bandwidth and every directed NoP link's bytes / link bandwidth. Latency sums the
windows. Throughput is the steady state of a repeated stream of request sets: one set leaves per
period = the busiest resource's total time (chiplet, DRAM, link); inferences = sum of batches.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

PJ = 1e-12


@dataclass
class Tables:
    """Static arrays of a problem, built once: per layer, class and micro-batch option."""

    t: np.ndarray  # [L, K, O] compute seconds per micro-batch
    e: np.ndarray  # [L, K, O] compute energy J per micro-batch (MAC + L1/L2)
    e_mac: np.ndarray  # [L, K, O] of which MAC (and fused-op) energy
    out_ps: np.ndarray  # [L] output bytes per sample
    in_ps: np.ndarray  # [L] input activation bytes per sample
    w_bytes: np.ndarray  # [L] weight bytes
    bsize: np.ndarray  # [M, O] micro-batch size of each option (padded with the last one)
    l2: np.ndarray  # [K] L2 bytes of each class
    hops: np.ndarray  # [n, n]
    dram_hops: np.ndarray  # [n]
    placement: np.ndarray  # [n] class of each chiplet
    pair_route: np.ndarray  # [n*n, H] link ids of the XY route a -> b, padded with n_links
    dram_route: np.ndarray  # [n, H] link ids from a chiplet to its DRAM edge, padded likewise
    n_links: int


def tables(problem) -> Tables:
    if problem._tables is not None:
        return problem._tables
    wl, mcm = problem.workload, problem.mcm
    O = max(len(o) for o in problem.mb_options)
    K = len(mcm.classes)
    L = problem.n_layers
    t = np.zeros((L, K, O))
    e = np.zeros((L, K, O))
    e_mac = np.zeros((L, K, O))
    bsize = np.array([o + [o[-1]] * (O - len(o)) for o in problem.mb_options], dtype=np.int64)
    for m, mod in enumerate(wl.models):
        a = problem.index.offset[m]
        for j in range(O):
            c = problem.table.model(m, int(bsize[m, j]))
            t[a : a + len(mod), :, j] = c.latency_s
            e[a : a + len(mod), :, j] = c.energy_pj * PJ
            e_mac[a : a + len(mod), :, j] = c.energy_mac_pj * PJ
    db = mcm.classes[0].data_bytes
    layers = [layer for mod in wl.models for layer in mod.layers]
    n = mcm.n_chiplets
    links = {lk: i for i, lk in enumerate(mcm.links)}
    nl = len(links)
    H = mcm.rows + mcm.cols
    pair = np.full((n * n, H), nl, dtype=np.int64)
    for a in range(n):
        for b in range(n):
            ids = [links[lk] for lk in mcm.route(a, b)]
            pair[a * n + b, : len(ids)] = ids
    dram = np.full((n, H), nl, dtype=np.int64)
    for a in range(n):
        ids = [links[lk] for lk in mcm.dram_route(a)]
        dram[a, : len(ids)] = ids
    problem._tables = Tables(
        t=t,
        e=e,
        e_mac=e_mac,
        out_ps=np.array([x.output_elems(1) * db for x in layers], dtype=np.float64),
        in_ps=np.array([x.input_elems(1) * db for x in layers], dtype=np.float64),
        w_bytes=np.array([x.weight_elems() * db for x in layers], dtype=np.float64),
        bsize=bsize,
        l2=np.array([c.l2_bytes for c in mcm.classes], dtype=np.float64),
        hops=mcm.hops.astype(np.float64),
        dram_hops=mcm.dram_hops.astype(np.float64),
        placement=np.array(mcm.placement),
        pair_route=pair,
        dram_route=dram,
        n_links=nl,
    )
    return problem._tables


@dataclass
class BatchResult:
    """Figures of ``P`` schedules as arrays (``[P]`` unless noted)."""

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
    link_bytes: np.ndarray  # [P, links] over all windows
    dram_bytes: np.ndarray  # [P]

    def row(self, i: int) -> dict:
        return {k: (v[i].tolist() if v.ndim > 1 else float(v[i])) for k, v in self.__dict__.items()}


@dataclass
class StageFigures:
    model: str
    window: int
    chiplet: int
    layers: tuple[int, int]  # [start, stop) model-local
    micro_batch: int
    n_micro_batches: int
    time_per_micro_batch_s: float
    weight_load_once_s: float


@dataclass
class Result:
    """One schedule's figures, with per window, per model, per stage and per chiplet detail."""

    latency_s: float
    energy_j: float
    energy_breakdown_j: dict[str, float]
    edp: float
    throughput: float
    window_latency_s: list[float]
    model_window_latency_s: dict[tuple[str, int], float]
    stages: list[StageFigures]
    chiplet_busy_s: list[float]
    chiplet_utilization: list[float]
    link_bytes: dict[tuple[int, int], float]
    dram_bytes: float
    extra: dict = field(default_factory=dict)


def _nop_time(mcm, nbytes, hops):
    return nbytes / mcm.nop_bw + hops * mcm.nop_hop_s


def _dram_time(mcm, nbytes, hops):
    return nbytes / mcm.dram_bw + mcm.dram_latency_s + hops * mcm.nop_hop_s


def evaluate_schedule(problem, s) -> Result:
    """The reference evaluation of one schedule, stage by stage in plain Python."""
    T, mcm, ix = tables(problem), problem.mcm, problem.index
    W, n = problem.max_windows, mcm.n_chiplets
    links = {lk: i for i, lk in enumerate(mcm.links)}
    nop_pj, dram_pj = mcm.nop_pj_per_bit, mcm.dram_pj_per_bit
    # per global layer: chiplet, window, micro-batch option
    C = np.concatenate([np.asarray(c) for c in s.chiplet])
    Wn = np.concatenate([np.asarray(w) for w in s.window])
    opt = np.array(
        [
            problem.mb_options[ix.model[g]].index(s.micro_batch[ix.model[g]][Wn[g]])
            for g in range(problem.n_layers)
        ],
        dtype=np.int64,
    )
    bp = T.bsize[ix.model, opt].astype(np.float64)
    nmb = problem.batch[ix.model] / bp
    cls = T.placement[C]
    extra_t = np.zeros(problem.n_layers)  # transfer seconds per micro-batch charged to a layer
    dram_w = np.zeros(W)
    link_w = np.zeros((W, len(links)))
    e_nop = e_dram = 0.0

    def dram_io(g, nbytes_mb):
        nonlocal e_dram, e_nop
        extra_t[g] += _dram_time(mcm, nbytes_mb, T.dram_hops[C[g]])
        total = nbytes_mb * nmb[g]
        dram_w[Wn[g]] += total
        for lk in mcm.dram_route(int(C[g])):
            link_w[Wn[g], links[lk]] += total
        e_dram += total * 8 * dram_pj * PJ
        e_nop += total * 8 * T.dram_hops[C[g]] * nop_pj * PJ

    for g in np.nonzero(ix.first)[0]:
        dram_io(g, T.in_ps[g] * bp[g])
    for g in np.nonzero(ix.last)[0]:
        dram_io(g, T.out_ps[g] * bp[g])
    for a, b in zip(ix.edge_src, ix.edge_dst):
        if Wn[a] == Wn[b]:
            if C[a] != C[b]:
                nb = T.out_ps[a] * bp[b]
                h = T.hops[C[a], C[b]]
                extra_t[b] += _nop_time(mcm, nb, h)
                total = nb * nmb[b]
                for lk in mcm.route(int(C[a]), int(C[b])):
                    link_w[Wn[b], links[lk]] += total
                e_nop += total * 8 * h * nop_pj * PJ
        else:
            dram_io(a, T.out_ps[a] * bp[a])
            dram_io(b, T.out_ps[a] * bp[b])
    # weights resident per (window, chiplet); activations that do not fit beside them spill
    resident = np.zeros((W, n))
    np.add.at(resident, (Wn, C), T.w_bytes)
    fits = resident[Wn, C] <= T.l2[cls]
    room = np.maximum(T.l2[cls] - np.where(fits, resident[Wn, C], 0.0), 0.0)
    spill = np.maximum((T.in_ps + T.out_ps) * bp - room, 0.0)
    extra_t += 2 * spill / mcm.dram_bw
    for g in np.nonzero(spill)[0]:
        dram_w[Wn[g]] += 2 * spill[g] * nmb[g]
        e_dram += 2 * spill[g] * nmb[g] * 8 * dram_pj * PJ
    t_layer = T.t[np.arange(problem.n_layers), cls, opt] + extra_t
    e_comp = float((T.e[np.arange(problem.n_layers), cls, opt] * nmb).sum())
    e_mac = float((T.e_mac[np.arange(problem.n_layers), cls, opt] * nmb).sum())

    stages, model_lat = [], {}
    busy = np.zeros((W, n))
    per_group: dict[tuple[int, int], list[tuple[float, float]]] = {}
    for st in s.stages():
        a = ix.offset[st.model]
        gs = np.arange(a + st.start, a + st.stop)
        wload = T.w_bytes[gs].sum()
        wtime = _dram_time(mcm, wload, T.dram_hops[st.chiplet]) if wload > 0 else 0.0
        g0 = gs[0]
        tm = float(t_layer[gs].sum())
        once = 0.0
        if fits[g0]:
            once = wtime
            dram_w[st.window] += wload
            wbytes_total = wload
        else:
            tm += wtime
            dram_w[st.window] += wload * nmb[g0]
            wbytes_total = wload * nmb[g0]
        if wload > 0:
            for lk in mcm.dram_route(st.chiplet):
                link_w[st.window, links[lk]] += wbytes_total
            e_dram += wbytes_total * 8 * dram_pj * PJ
            e_nop += wbytes_total * 8 * T.dram_hops[st.chiplet] * nop_pj * PJ
        busy[st.window, st.chiplet] += nmb[g0] * tm + once
        per_group.setdefault((st.model, st.window), []).append((tm, once))
        stages.append(
            StageFigures(
                problem.workload.models[st.model].name,
                st.window,
                st.chiplet,
                (st.start, st.stop),
                int(bp[g0]),
                int(nmb[g0]),
                tm,
                once,
            )
        )
    win_models = np.zeros(W)
    for (m, w), items in per_group.items():
        ts = [x[0] for x in items]
        k = problem.batch[m] / s.micro_batch[m][w]
        lat = sum(ts) + (k - 1) * max(ts) + sum(x[1] for x in items)
        model_lat[(problem.workload.models[m].name, w)] = lat
        win_models[w] = max(win_models[w], lat)
    win = np.maximum.reduce(
        [
            win_models,
            busy.max(axis=1),
            dram_w / mcm.dram_bw,
            link_w.max(axis=1, initial=0.0) / mcm.nop_bw,
        ]
    )
    latency = float(win.sum())
    energy = e_comp + e_nop + e_dram
    busy_total = busy.sum(axis=0)
    period = max(
        busy_total.max(),
        dram_w.sum() / mcm.dram_bw,
        link_w.sum(axis=0).max(initial=0.0) / mcm.nop_bw,
    )
    return Result(
        latency_s=latency,
        energy_j=energy,
        energy_breakdown_j={
            "compute": e_mac,
            "onchip": e_comp - e_mac,
            "nop": e_nop,
            "dram": e_dram,
        },
        edp=energy * latency,
        throughput=float(problem.batch.sum() / period),
        window_latency_s=win.tolist(),
        model_window_latency_s=model_lat,
        stages=stages,
        chiplet_busy_s=busy_total.tolist(),
        chiplet_utilization=(busy_total / latency).tolist(),
        link_bytes={lk: float(link_w[:, i].sum()) for lk, i in links.items()},
        dram_bytes=float(dram_w.sum()),
    )


def evaluate_batch(problem, genomes: np.ndarray) -> BatchResult:
    """Evaluate valid genomes ``[P, G]``, vectorized over the population."""
    T, mcm, ix = tables(problem), problem.mcm, problem.index
    P, L = len(genomes), problem.n_layers
    M, W, n = problem.n_models, problem.max_windows, mcm.n_chiplets
    nl = T.n_links
    C, Wn, MB = problem.split(genomes)
    rows = np.arange(P)[:, None]
    lay = np.arange(L)[None, :]
    opt = MB[rows, ix.model[None, :], Wn]  # [P, L]
    bp = T.bsize[ix.model[None, :], opt].astype(np.float64)
    nmb = problem.batch[ix.model][None, :] / bp
    cls = T.placement[C]
    pw = rows * W + Wn  # (p, window) key [P, L]
    extra_t = np.zeros((P, L))
    dram_w = np.zeros(P * W)  # DRAM bytes per (p, window)
    # routed traffic: (p-window key, route row, total bytes) of NoP and of DRAM transfers
    nop_k, nop_r, nop_b, dr_k, dr_r, dr_b = [], [], [], [], [], []
    dhop = T.dram_hops[C]

    def dram_io(sel_rows, g, nbytes_mb):
        """DRAM transfers of layers ``g`` ([P, k] or [k]) with per-micro-batch bytes [P, k]."""
        np.add.at(extra_t, (sel_rows, g), _dram_time(mcm, nbytes_mb, dhop[sel_rows, g]))
        total = nbytes_mb * nmb[sel_rows, g]
        key = pw[sel_rows, g]
        np.add.at(dram_w, key.ravel(), total.ravel())
        dr_k.append(key.ravel())
        dr_r.append(C[sel_rows, g].ravel())
        dr_b.append(total.ravel())

    firsts = np.nonzero(ix.first)[0][None, :]
    lasts = np.nonzero(ix.last)[0][None, :]
    dram_io(rows, np.broadcast_to(firsts, (P, firsts.shape[1])), T.in_ps[firsts] * bp[:, firsts[0]])
    dram_io(rows, np.broadcast_to(lasts, (P, lasts.shape[1])), T.out_ps[lasts] * bp[:, lasts[0]])
    a, b = ix.edge_src, ix.edge_dst
    if len(a):
        same_w = Wn[:, a] == Wn[:, b]
        nop = same_w & (C[:, a] != C[:, b])
        pr, pe = np.nonzero(nop)
        if len(pr):
            ea, eb = a[pe], b[pe]
            nb = T.out_ps[ea] * bp[pr, eb]
            ca, cb = C[pr, ea], C[pr, eb]
            np.add.at(extra_t, (pr, eb), _nop_time(mcm, nb, T.hops[ca, cb]))
            nop_k.append(pw[pr, eb])
            nop_r.append(ca * n + cb)
            nop_b.append(nb * nmb[pr, eb])
        dr, de = np.nonzero(~same_w)
        if len(dr):
            ea, eb = a[de], b[de]
            dram_io(dr, ea, T.out_ps[ea] * bp[dr, ea])
            dram_io(dr, eb, T.out_ps[ea] * bp[dr, eb])
    # weights resident per (p, window, chiplet)
    wc = pw * n + C
    resident = np.bincount(
        wc.ravel(), np.broadcast_to(T.w_bytes, (P, L)).ravel(), minlength=P * W * n
    )[wc]
    l2 = T.l2[cls]
    fits = resident <= l2
    room = np.maximum(l2 - np.where(fits, resident, 0.0), 0.0)
    spill = np.maximum((T.in_ps + T.out_ps)[None, :] * bp - room, 0.0)
    extra_t += 2 * spill / mcm.dram_bw
    dram_w += np.bincount(pw.ravel(), (2 * spill * nmb).ravel(), minlength=P * W)
    t_layer = T.t[lay, cls, opt] + extra_t
    e_layer = T.e[lay, cls, opt] * nmb
    e_mac = (T.e_mac[lay, cls, opt] * nmb).sum(axis=1)
    # stages: maximal runs of one model, window and chiplet
    boundary = np.ones((P, L), dtype=bool)
    boundary[:, 1:] = (~ix.first[1:])[None, :] & (Wn[:, 1:] == Wn[:, :-1]) & (C[:, 1:] == C[:, :-1])
    boundary[:, 1:] = ~boundary[:, 1:]
    sid = (np.cumsum(boundary, axis=1) - 1) + rows * L
    t_stage = np.bincount(sid.ravel(), t_layer.ravel(), minlength=P * L)
    w_stage = np.bincount(sid.ravel(), np.broadcast_to(T.w_bytes, (P, L)).ravel(), minlength=P * L)
    fp, fl = np.nonzero(boundary)  # first layer of every stage, in stage order
    s_id = sid[fp, fl]
    s_c, s_w, s_m = C[fp, fl], Wn[fp, fl], ix.model[fl]
    s_nmb, s_fit = nmb[fp, fl], fits[fp, fl]
    s_wb = w_stage[s_id]
    s_wt = np.where(s_wb > 0, _dram_time(mcm, s_wb, T.dram_hops[s_c]), 0.0)
    s_t = t_stage[s_id] + np.where(s_fit, 0.0, s_wt)
    s_once = np.where(s_fit, s_wt, 0.0)
    s_wtotal = np.where(s_fit, s_wb, s_wb * s_nmb)
    s_pw = fp * W + s_w
    np.add.at(dram_w, s_pw, s_wtotal)
    dr_k.append(s_pw)
    dr_r.append(s_c)
    dr_b.append(s_wtotal)
    # model-window latency: fill + steady state at the bottleneck + one-time weight loads
    grp = (fp * M + s_m) * W + s_w
    g_sum = np.bincount(grp, s_t + s_once, minlength=P * M * W)
    g_max = np.zeros(P * M * W)
    np.maximum.at(g_max, grp, s_t)
    g_nmb = np.zeros(P * M * W)
    g_nmb[grp] = s_nmb
    model_lat = (g_sum + np.maximum(g_nmb - 1, 0) * g_max).reshape(P, M, W).max(axis=1)
    busy = np.bincount(s_pw * n + s_c, s_nmb * s_t + s_once, minlength=P * W * n).reshape(P, W, n)
    link = np.zeros(P * W * (nl + 1))
    e_hops = np.zeros(P * W)  # byte-hops per (p, window)
    for keys, rts, nbytes, route, hops in (
        (nop_k, nop_r, nop_b, T.pair_route, T.hops.ravel()),
        (dr_k, dr_r, dr_b, T.dram_route, T.dram_hops),
    ):
        if not keys:
            continue
        k, r, nb = np.concatenate(keys), np.concatenate(rts), np.concatenate(nbytes)
        ids = k[:, None] * (nl + 1) + route[r]
        link += np.bincount(ids.ravel(), np.repeat(nb, route.shape[1]), minlength=len(link))
        e_hops += np.bincount(k, nb * hops[r], minlength=P * W)
    link = link.reshape(P, W, nl + 1)[:, :, :nl]
    dram = dram_w.reshape(P, W)
    win = np.maximum.reduce(
        [
            model_lat,
            busy.max(axis=2),
            dram / mcm.dram_bw,
            link.max(axis=2, initial=0.0) / mcm.nop_bw,
        ]
    )
    latency = win.sum(axis=1)
    e_nop = e_hops.reshape(P, W).sum(axis=1) * 8 * mcm.nop_pj_per_bit * PJ
    total_dram = dram.sum(axis=1)
    e_dram = total_dram * 8 * mcm.dram_pj_per_bit * PJ
    e_comp = e_layer.sum(axis=1)
    energy = e_comp + e_nop + e_dram
    busy_total = busy.sum(axis=1)
    link_total = link.sum(axis=1)
    period = np.maximum.reduce(
        [
            busy_total.max(axis=1),
            total_dram / mcm.dram_bw,
            link_total.max(axis=1, initial=0.0) / mcm.nop_bw,
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
        link_bytes=link_total,
        dram_bytes=total_dram,
    )
