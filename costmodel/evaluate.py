"""Schedule evaluation (DESIGN.md section 7): the reference evaluator of one schedule, in detail.

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
            "nop": float(e_nop),
            "dram": float(e_dram),
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
        extra={
            "window_dram_s": (dram_w / mcm.dram_bw).tolist(),
            "window_link_s": (link_w.max(axis=1, initial=0.0) / mcm.nop_bw).tolist(),
        },
    )
