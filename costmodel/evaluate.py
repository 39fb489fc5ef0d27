"""The reference evaluator: one schedule, stage by stage, in plain Python (docs/evaluation.md).

It is the readable statement of the semantics: it prices every transfer, spill and weight load,
attributes each to a stage (per micro-batch or once per window) and times the stages' tasks with
the fixed-order dispatch policy by the flow-shop recursion. The batch evaluators
(:mod:`costmodel.batch`, :mod:`costmodel.numba_batch`) and the event-driven simulator
(:mod:`costmodel.simulate`) compute the same figures; ``tests/test_exactness.py`` holds them
equal to 1e-9.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from .compiled import PJ
from .results import Result, StageFigures
from .stages import stage_bounds
from .targets import target_report


def flow_shop(stages: list[StageFigures]) -> tuple[float, dict[int, float]]:
    """Makespan of one window's stages (global stage order) under the fixed-order policy, and the
    last finish of each model: loads back to back on each chiplet, then micro-batch ``j`` of every
    stage in order, ``finish = max(previous stage of the group at j, chiplet free) + t``."""
    free: dict[int, float] = defaultdict(float)
    for st in stages:
        free[st.chiplet] += st.weight_load_once_s
    finish = [0.0] * len(stages)
    model_end: dict[int, float] = defaultdict(float)
    for j in range(max((st.n_micro_batches for st in stages), default=0)):
        for k, st in enumerate(stages):
            if j >= st.n_micro_batches:
                continue
            same_group = k > 0 and stages[k - 1].model_index == st.model_index
            ready = finish[k - 1] if same_group else 0.0
            finish[k] = max(ready, free[st.chiplet]) + st.time_per_micro_batch_s
            free[st.chiplet] = finish[k]
            model_end[st.model_index] = max(model_end[st.model_index], finish[k])
    return max(free.values(), default=0.0), dict(model_end)


def evaluate_schedule(problem, s) -> Result:
    """The reference evaluation of one (valid) schedule."""
    cp, mcm = problem.compiled, problem.mcm
    L, W, n = cp.n_layers, cp.max_windows, cp.n_chiplets
    C = np.concatenate([np.asarray(c, dtype=np.int64) for c in s.chiplet])
    Wn = np.concatenate([np.asarray(w, dtype=np.int64) for w in s.window])
    opt = np.array(
        [
            problem.mb_options[cp.model[g]].index(s.micro_batch[cp.model[g]][Wn[g]])
            for g in range(L)
        ],
        dtype=np.int64,
    )
    bp = cp.bsize[cp.model, opt].astype(np.float64)
    nmb = cp.batch[cp.model] / bp
    cls = cp.placement[C]

    # per layer and micro-batch: seconds, DRAM bytes, NoP link bytes, bytes x hops (NoP energy)
    t = cp.t[np.arange(L), cls, opt].copy()
    e_layer = cp.e[np.arange(L), cls, opt]
    e_mac_layer = cp.e_mac[np.arange(L), cls, opt]
    dram_b = np.zeros(L)
    hop_b = np.zeros(L)
    links: list[dict[tuple[int, int], float]] = [defaultdict(float) for _ in range(L)]

    def dram_fixed(c: int) -> float:
        return cp.dram_latency_s + cp.dram_hops[c] * cp.nop_hop_s

    def via_dram(g: int, nbytes: float, fixed: bool = True) -> None:
        """``nbytes`` between layer ``g``'s chiplet and DRAM, charged to ``g``."""
        t[g] += nbytes / cp.dram_bw + (dram_fixed(C[g]) if fixed else 0.0)
        dram_b[g] += nbytes
        hop_b[g] += nbytes * cp.dram_hops[C[g]]
        for lk in mcm.dram_route(int(C[g])):
            links[g][lk] += nbytes

    def via_nop(a: int, b: int, nbytes: float) -> None:
        """An activation from ``a``'s chiplet to ``b``'s over the NoP, charged to ``b``."""
        hops = float(mcm.hops[C[a], C[b]])
        t[b] += nbytes / cp.nop_bw + hops * cp.nop_hop_s
        hop_b[b] += nbytes * hops
        for lk in mcm.route(int(C[a]), int(C[b])):
            links[b][lk] += nbytes

    for g in range(L):
        if cp.first[g]:
            via_dram(g, cp.in_ps[g] * bp[g])
        if cp.last[g]:
            via_dram(g, cp.out_ps[g] * bp[g])
    edges = [(g - 1, g) for g in range(L) if not cp.first[g]]
    edges += list(zip(cp.skip_src.tolist(), cp.skip_dst.tolist()))
    for a, b in edges:
        if Wn[a] == Wn[b]:
            if C[a] != C[b]:
                via_nop(a, b, cp.out_ps[a] * bp[b])
        else:
            via_dram(a, cp.out_ps[a] * bp[a])  # the producer writes at its micro-batch
            via_dram(b, cp.out_ps[a] * bp[b])  # the consumer reads at its own
    # weights resident per (window, chiplet); activations that do not fit beside them spill
    resident = np.zeros((W, n))
    np.add.at(resident, (Wn, C), cp.w_bytes)
    fits = resident[Wn, C] <= cp.l2[cls]
    room = np.maximum(cp.l2[cls] - np.where(fits, resident[Wn, C], 0.0), 0.0)
    spill = np.maximum((cp.in_ps + cp.out_ps) * bp - room, 0.0)
    for g in np.flatnonzero(spill).tolist():
        via_dram(g, 2 * spill[g], fixed=False)  # out and back, streamed with the layer

    def energy(dram_bytes: float, hop_bytes: float) -> float:
        return dram_bytes * 8 * cp.dram_pj_per_bit * PJ + hop_bytes * 8 * cp.nop_pj_per_bit * PJ

    stages: list[StageFigures] = []
    hop_total = 0.0  # bytes x hops over all transfers (NoP energy)
    for a, b in stage_bounds(C, Wn, cp.first):
        m, c, w = int(cp.model[a]), int(C[a]), int(Wn[a])
        wload = float(cp.w_bytes[a:b].sum())
        t_mb = float(sum(t[a:b]))
        e_mb = float(sum(e_layer[a:b]))
        d_mb = float(dram_b[a:b].sum())
        h_mb = float(hop_b[a:b].sum())
        lk_mb: dict[tuple[int, int], float] = defaultdict(float)
        for g in range(a, b):
            for lk, v in links[g].items():
                lk_mb[lk] += v
        once = e_once = d_once = h_once = 0.0
        lk_once: dict[tuple[int, int], float] = {}
        if wload > 0:
            wtime = wload / cp.dram_bw + dram_fixed(c)
            route = {lk: wload for lk in mcm.dram_route(c)}
            if fits[a]:  # loaded once per window
                once, d_once, lk_once = wtime, wload, route
                h_once = wload * cp.dram_hops[c]
                e_once = energy(wload, h_once)
            else:  # reloaded every micro-batch
                t_mb += wtime
                d_mb += wload
                h_mb += wload * cp.dram_hops[c]
                for lk, v in route.items():
                    lk_mb[lk] += v
        hop_total += round(nmb[a]) * h_mb + h_once
        stages.append(
            StageFigures(
                model=problem.workload.models[m].name,
                model_index=m,
                window=w,
                chiplet=c,
                layers=(int(a - cp.offset[m]), int(b - cp.offset[m])),
                micro_batch=int(bp[a]),
                n_micro_batches=int(round(nmb[a])),
                time_per_micro_batch_s=t_mb,
                weight_load_once_s=once,
                energy_per_micro_batch_j=e_mb + energy(d_mb, h_mb),
                energy_once_j=e_once,
                dram_bytes_per_micro_batch=d_mb,
                dram_bytes_once=d_once,
                link_bytes_per_micro_batch=dict(lk_mb),
                link_bytes_once=lk_once,
            )
        )

    # windows: tasks by the flow-shop recursion, then the DRAM and link bounds
    win, makespan, dram_s, link_s = [], [], [], []
    model_lat: dict[tuple[str, int], float] = {}
    link_total: dict[tuple[int, int], float] = defaultdict(float)
    busy = np.zeros(n)
    dram_total = 0.0
    for w in range(W):
        sw = [st for st in stages if st.window == w]
        span, ends = flow_shop(sw)
        dram_w = 0.0
        link_w: dict[tuple[int, int], float] = defaultdict(float)
        for st in sw:
            k = st.n_micro_batches
            dram_w += k * st.dram_bytes_per_micro_batch + st.dram_bytes_once
            for lk, v in st.link_bytes_per_micro_batch.items():
                link_w[lk] += k * v
            for lk, v in st.link_bytes_once.items():
                link_w[lk] += v
            busy[st.chiplet] += k * st.time_per_micro_batch_s + st.weight_load_once_s
        for m, end in ends.items():
            model_lat[(problem.workload.models[m].name, w)] = end
        lmax = max(link_w.values(), default=0.0)
        makespan.append(span)
        dram_s.append(dram_w / cp.dram_bw)
        link_s.append(lmax / cp.nop_bw)
        win.append(max(span, dram_w / cp.dram_bw, lmax / cp.nop_bw))
        dram_total += dram_w
        for lk, v in link_w.items():
            link_total[lk] += v
    # per-model latency: the end of the model's last task, its window's timeline stretched to
    # the window's latency (the bounds slow every task of the window alike)
    model_latency: dict[str, float] = {}
    start = 0.0
    for w in range(W):
        scale = win[w] / makespan[w] if makespan[w] > 0 else 1.0
        for (name, ww), end in model_lat.items():
            if ww == w:
                model_latency[name] = start + end * scale
        start += win[w]
    names = [m.name for m in problem.workload.models]
    model_latency = {n: model_latency[n] for n in names}
    e_nop = hop_total * 8 * cp.nop_pj_per_bit * PJ
    e_dram = dram_total * 8 * cp.dram_pj_per_bit * PJ
    e_comp = float((e_layer * nmb).sum())
    e_mac = float((e_mac_layer * nmb).sum())
    latency = float(sum(win))
    energy_j = e_comp + e_nop + e_dram
    period = max(
        float(busy.max(initial=0.0)),
        dram_total / cp.dram_bw,
        max(link_total.values(), default=0.0) / cp.nop_bw,
    )
    return Result(
        latency_s=latency,
        energy_j=energy_j,
        energy_breakdown_j={
            "compute": e_mac,
            "onchip": e_comp - e_mac,
            "nop": e_nop,
            "dram": e_dram,
        },
        edp=energy_j * latency,
        throughput=float(cp.batch.sum() / period),
        window_latency_s=win,
        window_makespan_s=makespan,
        model_window_latency_s=model_lat,
        stages=stages,
        chiplet_busy_s=busy.tolist(),
        chiplet_utilization=(busy / latency).tolist() if latency > 0 else busy.tolist(),
        link_bytes={lk: float(link_total.get(lk, 0.0)) for lk in mcm.links},
        dram_bytes=dram_total,
        window_dram_s=dram_s,
        window_link_s=link_s,
        model_latency_s=model_latency,
        model_targets=target_report(names, problem.workload.targets, model_latency.values()),
    )
