"""The move and crossover kernels of :mod:`search.operators`, compiled with numba (the ``fast``
extra; imported only when it is installed). :mod:`search.moves_numpy` has the same functions
in numpy, with equal results (``tests/test_operators.py`` compares them).

A move changes one stage, a few layers or one group of a genome. These kernels look only at the
layers a move touches: per row they scan from a layer to the ends of its stage or group with the
scalar stage rule of :mod:`costmodel.stages`, where whole-row arrays (stage starts, cumulative
stage ids, ``where`` over the row) made mutation cost more than the evaluation it feeds on a
2,060-layer genome (issue 12 item 6). Every random number is drawn by the caller and passed in:
a kernel is a deterministic function of the genomes and those draws.
"""

from __future__ import annotations

import numpy as np
from numba import njit as jit

from costmodel import stages

stage_start_at = jit(cache=True)(stages.stage_start_at)
group_start_at = jit(cache=True)(stages.group_start_at)


@jit(cache=True)
def stage_of(C, Wn, first, l):
    """``(a, b)``: the stage ``[a, b)`` holding layer ``l``."""
    a = l
    while not stage_start_at(C, Wn, first, a):
        a -= 1
    b = l + 1
    while b < len(C) and not stage_start_at(C, Wn, first, b):
        b += 1
    return a, b


@jit(cache=True)
def group_of(Wn, first, l):
    """``(a, b)``: the group ``[a, b)`` (one model's layers in one window) holding layer ``l``."""
    a = l
    while not group_start_at(Wn, first, a):
        a -= 1
    b = l + 1
    while b < len(Wn) and not group_start_at(Wn, first, b):
        b += 1
    return a, b


@jit(cache=True)
def cut_points(g, rows, r, L, first):
    """Per row a stage start that is not a group start (a cut point between two stages of one
    group), chosen uniformly with the draws ``r [n, L]`` (the candidate with the largest draw),
    and whether the row has one (rows without get 0)."""
    n = len(rows)
    c = np.zeros(n, np.int64)
    ok = np.zeros(n, np.bool_)
    for k in range(n):
        C, Wn = g[rows[k], :L], g[rows[k], L : 2 * L]
        best = -2.0
        for j in range(L):
            cand = j > 0 and not first[j] and Wn[j] == Wn[j - 1] and C[j] != C[j - 1]
            v = r[k, j] if cand else -1.0
            if v > best:
                best = v
                c[k] = j
            ok[k] = ok[k] or cand
    return c, ok


@jit(cache=True)
def shift_cut(g, rows, c, d, later, L, first):
    """``later``: layers ``c .. c+d-1`` join the stage before ``c`` (its chiplet); else layers
    ``c-d .. c-1`` join the stage at ``c``; only layers of the same group change."""
    for k in range(len(rows)):
        C, Wn = g[rows[k], :L], g[rows[k], L : 2 * L]
        ck, dk = c[k], d[k]
        lo, hi, ref, chip = (
            (ck, ck + dk, ck, C[ck - 1]) if later[k] else (ck - dk, ck, ck - 1, C[ck])
        )
        ga, gb = group_of(Wn, first, ref)
        for at in range(max(lo, ga), min(hi, gb, lo + 3)):
            C[at] = chip


@jit(cache=True)
def merge_at(g, rows, c, into_prev, L, first):
    """``into_prev``: the stage at ``c`` takes the chiplet of the stage before it; else the
    stage before takes the chiplet of the stage at ``c``."""
    for k in range(len(rows)):
        C, Wn = g[rows[k], :L], g[rows[k], L : 2 * L]
        ck = c[k]
        ref, chip = (ck, C[ck - 1]) if into_prev[k] else (ck - 1, C[ck])
        a, b = stage_of(C, Wn, first, ref)
        C[a:b] = chip


@jit(cache=True)
def move_stage(g, rows, l, new, L, first):
    """The stage holding layer ``l`` moves to chiplet ``new``."""
    for k in range(len(rows)):
        C, Wn = g[rows[k], :L], g[rows[k], L : 2 * L]
        a, b = stage_of(C, Wn, first, l[k])
        C[a:b] = new[k]


@jit(cache=True)
def split_stage(g, rows, l, u, new, L, first):
    """The stage ``[a, b)`` holding ``l`` is cut at ``a + 1 + floor(u (b - a - 1))`` and its
    second part moves to ``new`` (a one-layer stage moves whole)."""
    for k in range(len(rows)):
        C, Wn = g[rows[k], :L], g[rows[k], L : 2 * L]
        a, b = stage_of(C, Wn, first, l[k])
        cut = a + 1 + np.int64(u[k] * (b - a - 1)) if b - a > 1 else a
        C[cut:b] = new[k]


@jit(cache=True)
def swap_stages(g, rows, l1, l2, L, first):
    """The stages holding ``l1`` and ``l2`` trade chiplets."""
    for k in range(len(rows)):
        C, Wn = g[rows[k], :L], g[rows[k], L : 2 * L]
        a1, b1 = stage_of(C, Wn, first, l1[k])
        a2, b2 = stage_of(C, Wn, first, l2[k])
        c1, c2 = C[l1[k]], C[l2[k]]
        C[a2:b2] = c1
        C[a1:b1] = c2  # one stage (l1 and l2 in it): keeps its chiplet


@jit(cache=True)
def fill(g, rows, lo, hi, value):
    """Genes ``lo .. hi-1`` of each row set to ``value``."""
    for k in range(len(rows)):
        g[rows[k], lo[k] : hi[k]] = value[k]


@jit(cache=True)
def shift(g, rows, lo, hi, delta):
    """Genes ``lo .. hi-1`` of each row raised by ``delta``."""
    for k in range(len(rows)):
        if delta[k] != 0:
            g[rows[k], lo[k] : hi[k]] += delta[k]


@jit(cache=True)
def move_group(g, rows, l, u, L, W, first, stop_of):
    """The group holding ``l`` moves to a window between its neighbours' windows (drawn with
    ``u``): from the previous group's window (0 at a model's start) to the next one's (``W -
    1`` at its end)."""
    for k in range(len(rows)):
        Wn = g[rows[k], L : 2 * L]
        a, b = group_of(Wn, first, l[k])
        lo = 0 if first[a] else Wn[max(a - 1, 0)]
        hi = W - 1 if b >= stop_of[l[k]] else Wn[min(b, L - 1)]
        Wn[a:b] = lo + np.int64(u[k] * (hi - lo + 1))


@jit(cache=True)
def cross(a, b, take_b, m, cut, do, model, stop, L, M, W):
    """Children of row pairs ``(a[p], b[p])``: model ``j``'s genes from ``b`` where
    ``take_b[p, j]``, else from ``a``; where ``do[p]``, model ``m[p]``'s layers from ``cut[p]``
    on come from the other parent; windows made non-decreasing along each model (a running
    maximum, model ``j``'s windows lifted by ``j W`` so that models never mix)."""
    P = a.shape[0]
    child = np.empty_like(a)
    for p in range(P):
        for j in range(L):
            src = b if take_b[p, model[j]] else a
            child[p, j] = src[p, j]
            child[p, L + j] = src[p, L + j]
        for j in range(M):
            src = b if take_b[p, j] else a
            for w in range(W):
                child[p, 2 * L + j * W + w] = src[p, 2 * L + j * W + w]
        if do[p]:
            other = a if take_b[p, m[p]] else b
            for j in range(cut[p], stop[m[p]]):
                child[p, j] = other[p, j]
                child[p, L + j] = other[p, L + j]
        top = child[p, L]
        for j in range(L):
            lift = model[j] * W
            top = max(top, child[p, L + j] + lift)
            child[p, L + j] = top - lift
    return child
