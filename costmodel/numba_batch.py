"""The schedule evaluator compiled with numba (the ``fast`` extra): a population ``[P, G]`` at once.

Same figures as :func:`costmodel.batch.evaluate_batch` (numpy) and hence as the reference
:func:`costmodel.evaluate.evaluate_schedule`; the tests hold numba and numpy equal to 1e-9 on every
field (byte counts are integers in floats, so links, DRAM bytes and their energies agree exactly).

One compiled kernel loops over individuals. For each it makes one pass over the layers (chiplet,
window and micro-batch option, compute time and energy, model inputs and outputs via DRAM, chain
activations: NoP within a window, DRAM across windows; weights resident per (window, chiplet); the
weight bytes of each stage), one over the skip edges, and a second pass over the layers once
residency is known (L2 spills, weight loads, stages, model-window groups, chiplet busy time, DRAM
bytes); then per window the link loads and the window's latency. NoP link loads are difference
arrays along each row and column per window (XY routing: along the source row, then down or up
the destination column), four updates per transfer, cumulated at the end; DRAM traffic runs along
each chiplet's row to the nearest edge column. The hot loops avoid data-dependent branches where
random schedules make them unpredictable, and index with unsigned casts (``U``) so numba emits no
negative-index wraparound; they do not check bounds, so the kernel checks each gene's range.

Everything that depends only on the problem (per micro-batch option and layer: the seconds and
bytes of every transfer, compute time and energy per class) is tabulated once, with the same
float operations as the numpy evaluator, and cached on the problem as ``problem._numba_static``;
scratch arrays are allocated once per call and reset per individual.

This module imports numba; nothing else in the package imports it (``backend="numba"`` does).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .evaluate import PJ, BatchResult, tables

#: index cast: unsigned indices skip numba's negative-index wraparound in the hot loops
U = np.uint64

# columns of the per-(option, layer) table ``lo``
_NMB, _IN_T, _IN_TOT, _OUT_T, _OUT_TOT, _CH_NOP_T, _CH_RD_T, _CH_TOT, _IO_BP = range(9)
_LO_COLS = 9
# columns of the per-(consumer's option, skip edge) table ``sk``
_SK_NOP_T, _SK_RD_T, _SK_TOT = range(3)


#: The static arrays of a problem, in the kernel's argument order. They are cached on the problem
#: as a plain tuple (``problem._numba_static``), so a pickled problem unpickles without numba.
#:
#: ``dims`` int64 [L, M, W, K, O, R, Cols, E]; ``model`` [L]; ``first``, ``last`` [L] bool;
#: ``w_bytes`` [L]; ``lko`` [O*L*K, 3]: compute seconds, energy J x n_mb, MAC energy J x n_mb;
#: ``lo`` [O*L, 9]: the _LO columns; ``sk_src``, ``sk_dst`` [E]: producer and consumer of each skip
#: edge (the index's order); ``sk`` [O*E, 3]: the _SK columns; per chiplet ``ch_cls``, ``ch_row``,
#: ``ch_col``, ``ch_l2`` (bytes), ``ch_dhop`` (hops to the nearest DRAM edge column, float),
#: ``ch_dram_t`` (fixed seconds of a DRAM transfer); ``link_of`` [n_links]: link id (mcm.links
#: order) of each kernel link slot; ``consts``: dram_bw, nop_bw, hop_s, sum of batches, NoP and
#: DRAM pJ/bit.
_STATIC_FIELDS = (
    "dims",
    "model",
    "first",
    "last",
    "w_bytes",
    "lko",
    "lo",
    "sk_src",
    "sk_dst",
    "sk",
    "ch_cls",
    "ch_row",
    "ch_col",
    "ch_l2",
    "ch_dhop",
    "ch_dram_t",
    "link_of",
    "consts",
)


def _static(problem) -> tuple:
    st = getattr(problem, "_numba_static", None)
    if st is not None:
        return st
    T, mcm, ix = tables(problem), problem.mcm, problem.index
    L, M, W = problem.n_layers, problem.n_models, problem.max_windows
    K, O = T.t.shape[1], T.t.shape[2]
    R, Cn = mcm.rows, mcm.cols
    # the same float operations as the numpy evaluator, done once per (layer, option)
    bp = T.bsize.astype(np.float64)[ix.model]  # [L, O]
    nmb = problem.batch[ix.model][:, None] / bp
    lko = np.empty((O, L, K, 3))
    lko[..., 0] = T.t.transpose(2, 0, 1)
    lko[..., 1] = (T.e * nmb[:, None, :]).transpose(2, 0, 1)
    lko[..., 2] = (T.e_mac * nmb[:, None, :]).transpose(2, 0, 1)
    lo = np.zeros((L, O, _LO_COLS))
    lo[..., _NMB] = nmb
    nb_in = T.in_ps[:, None] * bp
    lo[..., _IN_T] = nb_in / mcm.dram_bw
    lo[..., _IN_TOT] = nb_in * nmb
    nb_out = T.out_ps[:, None] * bp
    lo[..., _OUT_T] = nb_out / mcm.dram_bw
    lo[..., _OUT_TOT] = nb_out * nmb
    nb_ch = np.zeros((L, O))
    nb_ch[1:] = T.out_ps[:-1, None] * bp[1:]  # chain edge l-1 -> l at the consumer's option
    lo[..., _CH_NOP_T] = nb_ch / mcm.nop_bw
    lo[..., _CH_RD_T] = nb_ch / mcm.dram_bw
    lo[..., _CH_TOT] = nb_ch * nmb
    lo[..., _IO_BP] = (T.in_ps + T.out_ps)[:, None] * bp
    skip = ix.edge_src != ix.edge_dst - 1
    a, b = ix.edge_src[skip], ix.edge_dst[skip]
    E = len(a)
    nb_s = T.out_ps[a][:, None] * bp[b]  # [E, O]
    sk = np.empty((E, O, 3))
    sk[..., _SK_NOP_T] = nb_s / mcm.nop_bw
    sk[..., _SK_RD_T] = nb_s / mcm.dram_bw
    sk[..., _SK_TOT] = nb_s * nmb[b]
    n = mcm.n_chiplets
    cr, cc = np.divmod(np.arange(n), Cn)
    dhop = np.minimum(cc, Cn - 1 - cc).astype(np.float64)
    # kernel link slots of a window: east [R, Cn-1], west [R, Cn-1], south [Cn, R-1], north
    mi = problem._mesh_index
    link_of = np.concatenate([mi.east.ravel(), mi.west.ravel(), mi.south.ravel(), mi.north.ravel()])

    def i64(x):
        return np.ascontiguousarray(x, dtype=np.int64)

    def f64(x):
        return np.ascontiguousarray(x, dtype=np.float64)

    st = dict(
        dims=i64([L, M, W, K, O, R, Cn, E]),
        model=i64(ix.model),
        first=np.ascontiguousarray(ix.first, dtype=np.bool_),
        last=np.ascontiguousarray(ix.last, dtype=np.bool_),
        w_bytes=f64(T.w_bytes),
        lko=f64(lko.reshape(O * L * K, 3)),
        lo=f64(lo.transpose(1, 0, 2).reshape(O * L, _LO_COLS)),
        sk_src=i64(a),
        sk_dst=i64(b),
        sk=f64(sk.transpose(1, 0, 2).reshape(O * E, 3)),
        ch_cls=i64(T.placement),
        ch_row=i64(cr),
        ch_col=i64(cc),
        ch_l2=f64(T.l2[T.placement]),
        ch_dhop=dhop,
        ch_dram_t=f64(mcm.dram_latency_s + dhop * mcm.nop_hop_s),
        link_of=i64(link_of),
        consts=f64(
            [
                mcm.dram_bw,
                mcm.nop_bw,
                mcm.nop_hop_s,
                float(problem.batch.sum()),
                mcm.nop_pj_per_bit,
                mcm.dram_pj_per_bit,
            ]
        ),
    )
    st = tuple(st[k] for k in _STATIC_FIELDS)
    problem._numba_static = st
    return st


@njit(cache=True, inline="always")
def _fmax(a, b):
    """max of two non-NaN floats, as a plain select (numba's max() is much longer)."""
    return a if a >= b else b


@njit(cache=True, nogil=True)
def _kernel(
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
    consts,
    out_s,
    out_win,
    out_busy,
    out_links,
):
    """Fill ``out_s [P, 8]`` (latency, energy, e_mac, e_comp, e_nop, e_dram, throughput, DRAM
    bytes), ``out_win [P, W]``, ``out_busy [P, n]`` and ``out_links [P, n_links]``."""
    P = g.shape[0]
    L, W, K, O, R, Cn, E = dims[0], dims[2], dims[3], dims[4], dims[5], dims[6], dims[7]
    n = R * Cn
    nl = link_of.shape[0]
    nh = R * (Cn - 1)  # horizontal links per direction
    nv = Cn * (R - 1)
    dram_bw, nop_bw, hop_s = consts[0], consts[1], consts[2]
    batch_sum, nop_pj, dram_pj = consts[3], consts[4], consts[5]
    L2 = 2 * L
    # per-layer scratch, pass 1 -> pass 2 (chiplets and windows are read from the genome)
    Os = np.empty(L, np.int64)  # micro-batch option
    Ts = np.empty(L)  # compute seconds per micro-batch
    Ex = np.empty(L)  # transfer seconds per micro-batch charged to the layer
    Dl = np.empty(L)  # DRAM bytes (all micro-batches) routed via the layer's chiplet
    SWB = np.empty(L)  # weight bytes of the stage starting at l (read at stage starts only)
    # per-(window, chiplet), per-window and per-link scratch
    resident = np.empty(W * n)
    busy = np.zeros(W * n)  # zeroed as read, like hd and vd
    dramc = np.empty(W * n)
    hd = np.zeros(W * 2 * R * Cn)  # NoP difference arrays: [W, east/west, R, Cn]
    vd = np.zeros(W * 2 * Cn * R)  # [W, south/north, Cn, R]
    lk = np.empty(max(Cn - 1, 1))  # a row's west-bound NoP loads
    lk_tot = np.empty(nl)
    dram_win = np.empty(W)
    model_lat = np.empty(W)
    for p in range(P):
        resident[:] = 0.0
        dramc[:] = 0.0
        lk_tot[:] = 0.0
        dram_win[:] = 0.0
        model_lat[:] = 0.0
        e_comp = 0.0
        e_mac = 0.0
        hop_nop = 0.0
        hop_dram = 0.0
        s_start = 0
        s_wb = 0.0
        # ---- pass 1 over layers: compute, DRAM in/out, chain activations, residency
        for l in range(L):
            c = g[p, l]
            w = g[p, L + l]
            if U(c) >= U(n) or U(w) >= U(W):  # memory safety: the loops do not check bounds
                raise ValueError("chiplet or window gene out of range; repair genomes first")
            o = g[p, U(L2 + model[l] * W + w)]
            if U(o) >= U(O):
                raise ValueError("micro-batch gene out of range; repair genomes first")
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
                ex += lo[U(li), _IN_T] + ch_dram_t[U(c)]
                dl += lo[U(li), _IN_TOT]
            if last[l]:
                ex += lo[U(li), _OUT_T] + ch_dram_t[U(c)]
                dl += lo[U(li), _OUT_TOT]
            new_stage = True
            if not fl:
                pc = g[p, U(l - 1)]
                same_w = w == g[p, U(L + l - 1)]
                diff_c = c != pc
                nop = same_w & diff_c
                new_stage = (not same_w) | diff_c
                ra, ja, rb, jb = ch_row[U(pc)], ch_col[U(pc)], ch_row[U(c)], ch_col[U(c)]
                h = abs(ra - rb) + abs(ja - jb)
                tot = lo[U(li), _CH_TOT]
                # same window, other chiplet: NoP; other window: via DRAM (producer writes)
                if same_w:
                    ex += lo[U(li), _CH_NOP_T] + h * hop_s if nop else 0.0
                else:
                    ex += lo[U(li), _CH_RD_T] + ch_dram_t[U(c)]
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
                    Ex[U(l - 1)] += lo[pli, _OUT_T] + ch_dram_t[U(pc)]
                    Dl[U(l - 1)] += lo[pli, _OUT_TOT]
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
            ca = g[p, U(a)]
            cb = g[p, U(b)]
            wb_ = g[p, U(L + b)]
            sw = g[p, U(L + a)] == wb_
            snop = sw & (ca != cb)
            ei = U(Os[U(b)] * E + e)
            ra, ja, rb, jb = ch_row[U(ca)], ch_col[U(ca)], ch_row[U(cb)], ch_col[U(cb)]
            h = abs(ra - rb) + abs(ja - jb)
            tot = sk[ei, _SK_TOT]
            if sw:
                Ex[U(b)] += sk[ei, _SK_NOP_T] + h * hop_s if snop else 0.0
            else:  # the producer writes to DRAM, the consumer reads
                Ex[U(b)] += sk[ei, _SK_RD_T] + ch_dram_t[U(cb)]
                Dl[U(b)] += tot
                ali = U(Os[U(a)] * L + a)
                Ex[U(a)] += lo[ali, _OUT_T] + ch_dram_t[U(ca)]
                Dl[U(a)] += lo[ali, _OUT_TOT]
            t_nop = tot if snop else 0.0
            hop_nop += t_nop * h
            hb = ((wb_ * 2 + (1 if jb < ja else 0)) * R + ra) * Cn
            hd[U(hb + min(ja, jb))] += t_nop
            hd[U(hb + max(ja, jb))] -= t_nop
            vb = ((wb_ * 2 + (1 if rb < ra else 0)) * Cn + jb) * R
            vd[U(vb + min(ra, rb))] += t_nop
            vd[U(vb + max(ra, rb))] -= t_nop
        # ---- pass 2 over layers: spills, weight loads, stages, groups, busy, DRAM
        s_t = 0.0  # sum of t_full over the open stage
        g_sum = 0.0  # sum of t_full + once over the open group
        g_max = 0.0  # max stage time over the group's closed stages
        g_nmb = 0.0
        g_w = 0
        for l in range(L):
            c = g[p, l]
            w = g[p, L + l]
            li = U(Os[l] * L + l)
            nmb = lo[li, _NMB]
            wc = U(w * n + c)
            res = resident[wc]
            l2 = ch_l2[U(c)]
            fits = res <= l2
            room = max(l2 - (res if fits else 0.0), 0.0)
            sp = max(lo[li, _IO_BP] - room, 0.0)
            tf = Ts[l] + (Ex[l] + 2 * sp / dram_bw)
            if l == 0:
                new_group = True
                new_stage = True
            else:
                new_group = first[l] | (w != g[p, U(L + l - 1)])
                new_stage = new_group | (c != g[p, U(l - 1)])
            # weights of the stage starting here
            swb = SWB[l] if new_stage else 0.0
            swt = swb / dram_bw + ch_dram_t[U(c)] if swb > 0 else 0.0
            once = swt if fits else 0.0
            tf += 0.0 if fits else swt
            dl = Dl[l] + (swb if fits else swb * nmb)
            # close the previous stage and, at a new group, the previous group
            g_max = max(g_max, s_t if new_stage else 0.0)
            if new_group:
                if l > 0:
                    glat = g_sum + (g_nmb - 1 if g_nmb > 1 else 0.0) * g_max
                    model_lat[U(g_w)] = _fmax(model_lat[U(g_w)], glat)
                g_sum = 0.0
                g_max = 0.0
                g_nmb = nmb
                g_w = w
            s_t = (0.0 if new_stage else s_t) + tf
            g_sum += tf + once
            busy[wc] += nmb * tf + once
            hop_dram += dl * ch_dhop[U(c)]
            dram_win[U(w)] += dl + 2 * sp * nmb
            dramc[wc] += dl
        if L > 0:
            g_max = _fmax(g_max, s_t)
            glat = g_sum + (g_nmb - 1 if g_nmb > 1 else 0.0) * g_max
            model_lat[g_w] = _fmax(model_lat[g_w], glat)
        # ---- per window: link loads (cumulated NoP, DRAM along the rows), window latency
        latency = 0.0
        total_dram = 0.0
        for c in range(n):
            out_busy[p, c] = 0.0
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
            bmax = 0.0
            for c in range(n):
                b = busy[w * n + c]
                busy[w * n + c] = 0.0
                bmax = max(bmax, b)
                out_busy[p, c] += b
            win = max(max(model_lat[w], bmax), max(dram_win[w] / dram_bw, lmax / nop_bw))
            out_win[p, w] = win
            latency += win
            total_dram += dram_win[w]
        bt = 0.0
        for c in range(n):
            bt = _fmax(bt, out_busy[p, c])
        lt = 0.0
        for i in range(nl):
            x = lk_tot[i]
            lt = _fmax(lt, x)
            out_links[p, link_of[i]] = x
        period = _fmax(_fmax(bt, total_dram / dram_bw), lt / nop_bw)
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


def evaluate_batch(problem, genomes: np.ndarray) -> BatchResult:
    """Evaluate valid genomes ``[P, G]`` (see :meth:`costmodel.Problem.evaluate_batch`)."""
    st = _static(problem)
    g = np.ascontiguousarray(genomes, dtype=np.int64)
    if g.ndim != 2 or g.shape[1] != problem.genome_length:
        raise ValueError(f"genomes must have shape [P, {problem.genome_length}], got {g.shape}")
    P, W = len(g), problem.max_windows
    out_s = np.empty((P, 8))
    out_win = np.empty((P, W))
    out_busy = np.empty((P, problem.mcm.n_chiplets))
    out_links = np.empty((P, len(problem.mcm.links)))
    _kernel(g, *st, out_s, out_win, out_busy, out_links)
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
    )
