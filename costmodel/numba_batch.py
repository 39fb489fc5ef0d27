"""The schedule evaluator compiled with numba (the ``fast`` extra): a population ``[P, G]`` at once.

It computes docs/evaluation.md exactly, as :func:`costmodel.batch.evaluate_batch` (numpy) and the
reference :func:`costmodel.evaluate.evaluate_schedule` do; ``tests/test_exactness.py`` holds them
equal to 1e-9 on every field.

``prange`` runs blocks of ``BLOCK`` individuals on all threads; each individual is computed alone
from its own genome, so the figures are bit-identical for any number of threads. Per individual
the kernel repairs the genome (clips genes, running maximum of windows), makes one pass over the
layers (chiplet, window and micro-batch option, compute time and energy, model inputs and outputs
via DRAM, chain activations: NoP within a window, DRAM across windows; weights resident per
(window, chiplet); the weight bytes of each stage), one over the skip edges, and a second pass
over the layers once residency is known (L2 spills, weight loads, stages, chiplet busy time,
DRAM bytes); then the flow-shop recursion over the stages (a live list that drops the stages
whose micro-batches are done, so the work is the number of tasks) and per window the link loads
and the window's latency. NoP link loads are difference arrays along each row and column per
window (XY routing), cumulated at the end; DRAM traffic runs along each chiplet's row to the
nearest edge column. The hot loops index with unsigned casts (``U``) so numba emits no
negative-index wraparound; the in-kernel repair keeps every index in range.

The static arrays come from :attr:`costmodel.compiled.CompiledProblem.kernel` (built once per
problem, without numba). This module imports numba; nothing else in the package imports it.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .compiled import (
    LO_CH_NOP_T,
    LO_CH_RD_T,
    LO_CH_TOT,
    LO_IN_T,
    LO_IN_TOT,
    LO_IO_BP,
    LO_NMB,
    LO_OUT_T,
    LO_OUT_TOT,
    PJ,
    SK_NOP_T,
    SK_RD_T,
    SK_TOT,
    CompiledProblem,
)
from .results import BatchResult

#: index cast: unsigned indices skip numba's negative-index wraparound in the hot loops
U = np.uint64
#: individuals per parallel block
BLOCK = 32


@njit(cache=True, inline="always")
def _fmax(a, b):
    """max of two non-NaN floats, as a plain select (numba's max() is much longer)."""
    return a if a >= b else b


@njit(cache=True, nogil=True)
def _block(
    lo_p,
    hi_p,
    g,
    dims,
    model,
    first,
    last,
    w_bytes,
    lko,
    lo,
    sk_src,
    sk_dst,
    sk,
    ch_cls,
    ch_row,
    ch_col,
    ch_l2,
    ch_dhop,
    ch_dram_t,
    link_of,
    nvec,
    offset,
    size,
    consts,
    detail,
    out_s,
    out_win,
    out_busy,
    out_links,
    models,
    out_model,
):
    """Evaluate individuals ``lo_p .. hi_p - 1``: fill ``out_s [P, 8]`` (latency, energy,
    e_mac, e_comp, e_nop, e_dram, throughput, DRAM bytes), with ``detail`` ``out_win
    [P, W]``, ``out_busy [P, n]`` and ``out_links [P, n_links]``, with ``models``
    ``out_model [P, M]`` (each model's latency)."""
    L, M, W, K, R, Cn, E = dims[0], dims[1], dims[2], dims[3], dims[5], dims[6], dims[7]
    G = g.shape[1]
    n = R * Cn
    nl = link_of.shape[0]
    nh = R * (Cn - 1)  # horizontal links per direction
    nv = Cn * (R - 1)
    dram_bw, nop_bw, hop_s = consts[0], consts[1], consts[2]
    batch_sum, nop_pj, dram_pj = consts[3], consts[4], consts[5]
    L2 = 2 * L
    gr = np.empty(G, np.int64)  # the repaired genome
    # per-layer scratch, pass 1 -> pass 2
    Os = np.empty(L, np.int64)  # micro-batch option
    Ts = np.empty(L)  # compute seconds per micro-batch
    Ex = np.empty(L)  # transfer seconds per micro-batch charged to the layer
    Dl = np.empty(L)  # DRAM bytes (all micro-batches) routed via the layer's chiplet
    SWB = np.empty(L)  # weight bytes of the stage starting at l (read at stage starts only)
    # stages, in global order
    st_wc = np.empty(L, np.int64)
    st_t = np.empty(L)
    st_once = np.empty(L)
    st_nmb = np.empty(L, np.int64)
    st_first = np.empty(L, np.bool_)
    st_m = np.empty(L, np.int64)  # model of each stage
    live = np.empty(L, np.int64)  # groups still live in the sweeps
    g_start = np.empty(L + 1, np.int64)  # first stage of each group
    g_nmb = np.empty(L, np.int64)
    g_fin = np.empty(L)  # each group's last finish (window-relative)
    win_a = np.empty(W)  # each window's latency and makespan (per-model latency)
    span_a = np.empty(W)
    # per-(window, chiplet), per-window and per-link scratch
    resident = np.empty(W * n)
    busy = np.empty(W * n)
    free = np.empty(W * n)
    dramc = np.empty(W * n)
    hd = np.zeros(W * 2 * R * Cn)  # NoP difference arrays: [W, east/west, R, Cn], zeroed as read
    vd = np.zeros(W * 2 * Cn * R)  # [W, south/north, Cn, R]
    lk = np.empty(max(Cn - 1, 1))  # a row's west-bound NoP loads
    lk_tot = np.empty(nl)
    dram_win = np.empty(W)
    chip_busy = np.empty(n)
    for p in range(lo_p, hi_p):
        # ---- repair: clip every gene, windows non-decreasing along each model's chain
        for i in range(G):
            x = g[p, i]
            hi = nvec[i] - 1
            gr[i] = 0 if x < 0 else (hi if x > hi else x)
        for m in range(M):
            a0 = offset[m]
            for i in range(a0 + 1, a0 + size[m]):
                if gr[L + i] < gr[L + i - 1]:
                    gr[L + i] = gr[L + i - 1]
        resident[:] = 0.0
        busy[:] = 0.0
        dramc[:] = 0.0
        lk_tot[:] = 0.0
        dram_win[:] = 0.0
        e_comp = 0.0
        e_mac = 0.0
        hop_nop = 0.0
        hop_dram = 0.0
        s_start = 0
        s_wb = 0.0
        # ---- pass 1 over layers: compute, DRAM in/out, chain activations, residency
        for l in range(L):
            c = gr[l]
            w = gr[L + l]
            o = gr[U(L2 + model[l] * W + w)]
            li = o * L + l
            Os[l] = o
            ki = U(li * K + ch_cls[U(c)])
            Ts[l] = lko[ki, 0]
            e_comp += lko[ki, 1]
            e_mac += lko[ki, 2]
            ex = 0.0
            dl = 0.0
            fl = first[l]
            if fl:
                ex += lo[U(li), LO_IN_T] + ch_dram_t[U(c)]
                dl += lo[U(li), LO_IN_TOT]
            if last[l]:
                ex += lo[U(li), LO_OUT_T] + ch_dram_t[U(c)]
                dl += lo[U(li), LO_OUT_TOT]
            new_stage = True
            if not fl:
                pc = gr[U(l - 1)]
                same_w = w == gr[U(L + l - 1)]
                diff_c = c != pc
                nop = same_w & diff_c
                new_stage = (not same_w) | diff_c
                ra, ja, rb, jb = ch_row[U(pc)], ch_col[U(pc)], ch_row[U(c)], ch_col[U(c)]
                h = abs(ra - rb) + abs(ja - jb)
                tot = lo[U(li), LO_CH_TOT]
                # same window, other chiplet: NoP; other window: via DRAM (producer writes)
                if same_w:
                    ex += lo[U(li), LO_CH_NOP_T] + h * hop_s if nop else 0.0
                else:
                    ex += lo[U(li), LO_CH_RD_T] + ch_dram_t[U(c)]
                dl += 0.0 if same_w else tot
                t_nop = tot if nop else 0.0
                hop_nop += t_nop * h
                hb = ((w * 2 + (1 if jb < ja else 0)) * R + ra) * Cn
                hd[U(hb + min(ja, jb))] += t_nop
                hd[U(hb + max(ja, jb))] -= t_nop
                vb = ((w * 2 + (1 if rb < ra else 0)) * Cn + jb) * R
                vd[U(vb + min(ra, rb))] += t_nop
                vd[U(vb + max(ra, rb))] -= t_nop
                if not same_w:  # rare: the producer writes its output to DRAM
                    pli = U(Os[U(l - 1)] * L + l - 1)
                    Ex[U(l - 1)] += lo[pli, LO_OUT_T] + ch_dram_t[U(pc)]
                    Dl[U(l - 1)] += lo[pli, LO_OUT_TOT]
            Ex[l] = ex
            Dl[l] = dl
            wb = w_bytes[l]
            resident[U(w * n + c)] += wb
            s_start = l if new_stage else s_start
            s_wb = wb if new_stage else s_wb + wb
            SWB[U(s_start)] = s_wb  # read at stage starts only
        # ---- skip edges
        for e in range(E):
            a = sk_src[e]
            b = sk_dst[e]
            ca = gr[U(a)]
            cb = gr[U(b)]
            wb_ = gr[U(L + b)]
            sw = gr[U(L + a)] == wb_
            snop = sw & (ca != cb)
            ei = U(Os[U(b)] * E + e)
            ra, ja, rb, jb = ch_row[U(ca)], ch_col[U(ca)], ch_row[U(cb)], ch_col[U(cb)]
            h = abs(ra - rb) + abs(ja - jb)
            tot = sk[ei, SK_TOT]
            if sw:
                Ex[U(b)] += sk[ei, SK_NOP_T] + h * hop_s if snop else 0.0
            else:  # the producer writes to DRAM, the consumer reads
                Ex[U(b)] += sk[ei, SK_RD_T] + ch_dram_t[U(cb)]
                Dl[U(b)] += tot
                ali = U(Os[U(a)] * L + a)
                Ex[U(a)] += lo[ali, LO_OUT_T] + ch_dram_t[U(ca)]
                Dl[U(a)] += lo[ali, LO_OUT_TOT]
            t_nop = tot if snop else 0.0
            hop_nop += t_nop * h
            hb = ((wb_ * 2 + (1 if jb < ja else 0)) * R + ra) * Cn
            hd[U(hb + min(ja, jb))] += t_nop
            hd[U(hb + max(ja, jb))] -= t_nop
            vb = ((wb_ * 2 + (1 if rb < ra else 0)) * Cn + jb) * R
            vd[U(vb + min(ra, rb))] += t_nop
            vd[U(vb + max(ra, rb))] -= t_nop
        # ---- pass 2 over layers: spills, weight loads, stages, busy, DRAM
        S = 0
        for l in range(L):
            c = gr[l]
            w = gr[L + l]
            li = U(Os[l] * L + l)
            nmb = lo[li, LO_NMB]
            wc = U(w * n + c)
            res = resident[wc]
            l2 = ch_l2[U(c)]
            fits = res <= l2
            room = max(l2 - (res if fits else 0.0), 0.0)
            sp = max(lo[li, LO_IO_BP] - room, 0.0)
            tf = Ts[l] + (Ex[l] + 2 * sp / dram_bw)
            if l == 0:
                new_group = True
                new_stage = True
            else:
                new_group = first[l] | (w != gr[U(L + l - 1)])
                new_stage = new_group | (c != gr[U(l - 1)])
            # weights of the stage starting here
            swb = SWB[l] if new_stage else 0.0
            swt = swb / dram_bw + ch_dram_t[U(c)] if swb > 0 else 0.0
            once = swt if fits else 0.0
            tf += 0.0 if fits else swt
            dl = (Dl[l] + 2 * sp * nmb) + (swb if fits else swb * nmb)
            if new_stage:
                st_wc[S] = wc
                st_t[S] = tf
                st_once[S] = once
                st_nmb[S] = np.int64(nmb + 0.5)
                st_first[S] = new_group
                st_m[S] = model[l]
                S += 1
            else:
                st_t[S - 1] += tf
            busy[wc] += nmb * tf + once
            hop_dram += dl * ch_dhop[U(c)]
            dram_win[U(w)] += dl
            dramc[wc] += dl
        # ---- flow-shop recursion (fixed-order dispatch): loads, then micro-batch sweeps over
        # the groups still live (a group's stages share its micro-batch count)
        free[:] = 0.0
        NG = 0
        for k in range(S):
            free[U(st_wc[k])] += st_once[k]
            if st_first[k]:
                g_start[NG] = k
                g_nmb[NG] = st_nmb[k]
                live[NG] = NG
                NG += 1
        g_start[NG] = S
        nlive = NG
        j = 0
        while nlive > 0:
            for i in range(nlive):
                q = live[i]
                prev = 0.0
                for k in range(g_start[q], g_start[q + 1]):
                    wc = U(st_wc[k])
                    prev = _fmax(prev, free[wc]) + st_t[k]
                    free[wc] = prev
                g_fin[q] = prev
            j += 1
            m = 0
            for i in range(nlive):
                q = live[i]
                if g_nmb[q] > j:
                    live[m] = q
                    m += 1
            nlive = m
        # ---- per window: link loads (cumulated NoP, DRAM along the rows), window latency
        latency = 0.0
        total_dram = 0.0
        chip_busy[:] = 0.0
        for w in range(W):
            # links: cumulate the NoP difference arrays (zeroing them for the next individual)
            # and add DRAM traffic, which runs along each row to the nearest edge column
            lmax = 0.0
            for r in range(R):
                row = w * n + r * Cn
                base = (w * 2 * R + r) * Cn  # east
                slot = r * (Cn - 1)
                acc = 0.0
                accd = 0.0
                for j in range(Cn - 1):  # east link j carries the east-bound bytes of cols <= j
                    acc += hd[base + j]
                    hd[base + j] = 0.0
                    accd += dramc[row + j] if j > Cn - 1 - j else 0.0
                    x = acc + accd
                    lmax = max(lmax, x)
                    lk_tot[slot + j] += x
                hd[base + Cn - 1] = 0.0
                base += R * Cn  # west
                slot += nh
                acc = 0.0
                for j in range(Cn - 1):
                    acc += hd[base + j]
                    hd[base + j] = 0.0
                    lk[j] = acc
                hd[base + Cn - 1] = 0.0
                accd = 0.0
                for j in range(Cn - 2, -1, -1):  # west link j carries the west-bound cols > j
                    accd += dramc[row + j + 1] if j + 1 <= Cn - 2 - j else 0.0
                    x = lk[j] + accd
                    lmax = max(lmax, x)
                    lk_tot[slot + j] += x
            for d in range(2):
                for col in range(Cn):
                    base = ((w * 2 + d) * Cn + col) * R
                    slot = 2 * nh + d * nv + col * (R - 1)
                    acc = 0.0
                    for j in range(R - 1):
                        acc += vd[base + j]
                        vd[base + j] = 0.0
                        lmax = max(lmax, acc)
                        lk_tot[slot + j] += acc
                    vd[base + R - 1] = 0.0
            span = 0.0
            for c in range(n):
                span = _fmax(span, free[w * n + c])
                chip_busy[c] += busy[w * n + c]
            win = _fmax(span, _fmax(dram_win[w] / dram_bw, lmax / nop_bw))
            if detail:
                out_win[p, w] = win
            win_a[w] = win
            span_a[w] = span
            latency += win
            total_dram += dram_win[w]
        bt = 0.0
        for c in range(n):
            bt = _fmax(bt, chip_busy[c])
            if detail:
                out_busy[p, c] = chip_busy[c]
        lt = 0.0
        for i in range(nl):
            x = lk_tot[i]
            lt = _fmax(lt, x)
            if detail:
                out_links[p, link_of[i]] = x
        period = _fmax(_fmax(bt, total_dram / dram_bw), lt / nop_bw)
        if models:
            # each model's last group ends last; its window's timeline stretched to the window's
            # latency (docs/evaluation.md, Per-model latency)
            start = 0.0
            for w in range(W):
                dram_win[w] = start  # reused: each window's start
                start += win_a[w]
            for m in range(M):
                out_model[p, m] = 0.0
            for q in range(NG):
                k = g_start[q]
                w = st_wc[k] // n
                sc = win_a[w] / span_a[w] if span_a[w] > 0 else 1.0
                at = dram_win[w] + g_fin[q] * sc
                m = st_m[k]
                out_model[p, m] = _fmax(out_model[p, m], at)
        e_nop = (hop_nop + hop_dram) * 8 * nop_pj * PJ
        e_dram = total_dram * 8 * dram_pj * PJ
        out_s[p, 0] = latency
        out_s[p, 1] = e_comp + e_nop + e_dram
        out_s[p, 2] = e_mac
        out_s[p, 3] = e_comp
        out_s[p, 4] = e_nop
        out_s[p, 5] = e_dram
        out_s[p, 6] = batch_sum / period
        out_s[p, 7] = total_dram


@njit(cache=True, parallel=True)
def _kernel(g, st, detail, out_s, out_win, out_busy, out_links, models, out_model):
    """``_block`` over blocks of ``BLOCK`` individuals, in parallel."""
    P = g.shape[0]
    nb = (P + BLOCK - 1) // BLOCK
    for b in prange(nb):
        _block(
            b * BLOCK,
            min(P, (b + 1) * BLOCK),
            g,
            st[0],
            st[1],
            st[2],
            st[3],
            st[4],
            st[5],
            st[6],
            st[7],
            st[8],
            st[9],
            st[10],
            st[11],
            st[12],
            st[13],
            st[14],
            st[15],
            st[16],
            st[17],
            st[18],
            st[19],
            st[20],
            detail,
            out_s,
            out_win,
            out_busy,
            out_links,
            models,
            out_model,
        )


def evaluate_batch(
    cp: CompiledProblem, genomes: np.ndarray, *, detail: bool = True, models: bool = False
) -> BatchResult:
    """Evaluate genomes ``[P, G]`` (repaired inside the kernel, as
    :func:`costmodel.compiled.repair_genomes` does); each model's latency is computed with
    ``detail`` or ``models``."""
    g = np.ascontiguousarray(genomes, dtype=np.int64)
    if g.ndim != 2 or g.shape[1] != cp.genome_length:
        raise ValueError(f"genomes must have shape [P, {cp.genome_length}], got {g.shape}")
    P = len(g)
    out_s = np.empty((P, 8))
    shape = (P, cp.max_windows, cp.n_chiplets, cp.n_links) if detail else (P, 0, 0, 0)
    out_win = np.empty(shape[:2])
    out_busy = np.empty((P, shape[2]))
    out_links = np.empty((P, shape[3]))
    per_model = detail or models
    out_model = np.empty((P, len(cp.batch) if per_model else 0))
    if P:
        _kernel(g, cp.kernel, detail, out_s, out_win, out_busy, out_links, per_model, out_model)
    latency, energy, e_mac = out_s[:, 0].copy(), out_s[:, 1].copy(), out_s[:, 2].copy()
    return BatchResult(
        latency_s=latency,
        energy_j=energy,
        energy_compute_j=e_mac,
        energy_onchip_j=out_s[:, 3] - e_mac,
        energy_nop_j=out_s[:, 4].copy(),
        energy_dram_j=out_s[:, 5].copy(),
        edp=energy * latency,
        throughput=out_s[:, 6].copy(),
        window_latency_s=out_win,
        chiplet_busy_s=out_busy,
        link_bytes=out_links,
        dram_bytes=out_s[:, 7].copy(),
        model_latency_s=out_model,
    )


@njit(cache=True)
def _canonical(g, nvec, model, L, M, W):
    out = np.empty_like(g)
    used = np.zeros(M * W, np.bool_)
    for p in range(g.shape[0]):
        for j in range(g.shape[1]):  # genes clipped into range
            out[p, j] = min(max(g[p, j], 0), nvec[j] - 1)
        top = out[p, L]
        for j in range(L):  # windows: one running maximum, model m's lifted by m W
            lift = model[j] * W
            top = max(top, out[p, L + j] + lift)
            out[p, L + j] = top - lift
        used[:] = False
        for j in range(L):
            used[model[j] * W + out[p, L + j]] = True
        for k in range(M * W):  # micro-batch genes of windows no layer uses
            if not used[k]:
                out[p, 2 * L + k] = 0
    return out


def canonical_genomes(cp: CompiledProblem, genomes: np.ndarray) -> np.ndarray:
    """:meth:`costmodel.Problem.canonical` per row in one compiled pass (equal results)."""
    g = np.ascontiguousarray(np.atleast_2d(genomes), dtype=np.int64)
    return _canonical(g, cp.nvec, cp.model, cp.n_layers, len(cp.batch), cp.max_windows)
