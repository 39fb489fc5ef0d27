"""The move and crossover kernels of :mod:`search.operators` in numpy, over whole rows: the
backend without the ``fast`` extra. Same functions, arguments and results as
:mod:`search.moves_numba` (``tests/test_operators.py`` compares them); see that module for what
each does. Stages and groups are found with :func:`costmodel.stages.stage_runs` and
:func:`~costmodel.stages.group_runs` on the rows a kernel changes.
"""

from __future__ import annotations

import numpy as np

from costmodel.stages import group_runs, stage_runs


def _rows(g, rows, L):
    return g[rows, :L], g[rows, L : 2 * L]


def _run_ids(starts: np.ndarray) -> np.ndarray:
    return np.cumsum(starts, axis=1, dtype=np.int32)


def _holding(ids: np.ndarray, l: np.ndarray) -> np.ndarray:
    """``[n, L]`` bool: the run (stage or group) of each row that holds layer ``l``."""
    return ids == ids[np.arange(len(ids)), l][:, None]


def cut_points(g, rows, r, L, first):
    C, Wn = _rows(g, rows, L)
    mask = stage_runs(C, Wn, first) & ~group_runs(Wn, first)
    r = np.where(mask, r, -1.0)
    return np.argmax(r, axis=1), np.asarray(mask.any(axis=1))


def shift_cut(g, rows, c, d, later, L, first):
    C, Wn = _rows(g, rows, L)
    gid = _run_ids(group_runs(Wn, first))
    R = np.arange(len(c))
    lo = np.where(later, c, c - d)
    hi = np.where(later, c + d, c)
    grp = np.where(later, gid[R, c], gid[R, c - 1])
    chip = np.where(later, C[R, c - 1], C[R, c])
    for t in range(3):  # at most 3 layers change
        at = lo + t
        ok = (at >= 0) & (at < np.minimum(hi, L))
        ok[ok] &= gid[R[ok], at[ok]] == grp[ok]
        g[rows[ok], at[ok]] = chip[ok]


def merge_at(g, rows, c, into_prev, L, first):
    C, Wn = _rows(g, rows, L)
    R = np.arange(len(c))
    ref = np.where(into_prev, c, c - 1)
    chip = np.where(into_prev, C[R, c - 1], C[R, c])[:, None]
    g[rows, :L] = np.where(_holding(_run_ids(stage_runs(C, Wn, first)), ref), chip, C)


def move_stage(g, rows, l, new, L, first):
    C, Wn = _rows(g, rows, L)
    g[rows, :L] = np.where(_holding(_run_ids(stage_runs(C, Wn, first)), l), new[:, None], C)


def split_stage(g, rows, l, u, new, L, first):
    C, Wn = _rows(g, rows, L)
    mine = _holding(_run_ids(stage_runs(C, Wn, first)), l)
    a = np.argmax(mine, axis=1)
    b = L - np.argmax(mine[:, ::-1], axis=1)
    cut = np.where(b - a > 1, a + 1 + (u * (b - a - 1)).astype(np.int64), a)
    tail = mine & (np.arange(L)[None, :] >= cut[:, None])
    g[rows, :L] = np.where(tail, new[:, None], C)


def swap_stages(g, rows, l1, l2, L, first):
    C, Wn = _rows(g, rows, L)
    sid = _run_ids(stage_runs(C, Wn, first))
    R = np.arange(len(rows))
    c1, c2 = C[R, l1][:, None], C[R, l2][:, None]
    g[rows, :L] = np.where(_holding(sid, l1), c2, np.where(_holding(sid, l2), c1, C))


def fill(g, rows, lo, hi, value):
    j = np.arange(g.shape[1])[None, :]
    span = (j >= lo[:, None]) & (j < hi[:, None])
    g[rows] = np.where(span, value[:, None], g[rows])


def shift(g, rows, lo, hi, delta):
    j = np.arange(g.shape[1])[None, :]
    span = (j >= lo[:, None]) & (j < hi[:, None])
    g[rows] += span * delta[:, None]


def move_group(g, rows, l, u, L, W, first, stop_of):
    Wn = g[rows, L : 2 * L]
    R = np.arange(len(rows))
    mine = _holding(_run_ids(group_runs(Wn, first)), l)
    a = np.argmax(mine, axis=1)
    b = L - np.argmax(mine[:, ::-1], axis=1)  # group [a, b)
    lo = np.where(first[a], 0, Wn[R, np.maximum(a - 1, 0)])
    hi = np.where(b >= stop_of[l], W - 1, Wn[R, np.minimum(b, L - 1)])
    new = lo + (u * (hi - lo + 1)).astype(np.int64)
    g[rows, L : 2 * L] = np.where(mine, new[:, None], Wn)


def cross(a, b, take_b, m, cut, do, model, stop, L, M, W):
    P = len(a)
    lay = take_b[:, model]
    child = np.where(np.concatenate([lay, lay, np.repeat(take_b, W, axis=1)], axis=1), b, a)
    j = np.arange(L)[None, :]
    tail = do[:, None] & (j >= cut[:, None]) & (j < stop[m][:, None])
    other = np.where(take_b[np.arange(P), m][:, None], a[:, : 2 * L], b[:, : 2 * L])
    both = np.concatenate([tail, tail], axis=1)
    child[:, : 2 * L] = np.where(both, other, child[:, : 2 * L])
    lift = model * W
    child[:, L : 2 * L] = np.maximum.accumulate(child[:, L : 2 * L] + lift, axis=1) - lift
    return child
