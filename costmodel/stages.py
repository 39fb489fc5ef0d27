"""Stage runs: the one place that decides where a stage starts.

A stage is a maximal run of consecutive layers of one model, in one window, on one chiplet
(docs/evaluation.md). Every evaluator, the environment and the agents find stages here.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike


def stage_runs(chiplet: ArrayLike, window: ArrayLike, first: ArrayLike) -> np.ndarray:
    """``[P, L]`` (or ``[L]``) bool: layer ``l`` starts a stage.

    ``chiplet`` and ``window`` are ``[P, L]`` (or ``[L]``) genes in global layer order; ``first``
    ``[L]`` marks the first layer of each model. A stage starts at a model's first layer and
    wherever the window or the chiplet changes from the layer before.
    """
    c, w = np.asarray(chiplet), np.asarray(window)
    start = np.ones(c.shape, dtype=bool)
    start[..., 1:] = (
        np.asarray(first, dtype=bool)[1:]
        | (c[..., 1:] != c[..., :-1])
        | (w[..., 1:] != w[..., :-1])
    )
    return start


def group_runs(window: np.ndarray, first: np.ndarray) -> np.ndarray:
    """``[P, L]`` (or ``[L]``) bool: layer ``l`` starts a group (one model's stages in one window)."""
    w = np.asarray(window)
    start = np.ones(w.shape, dtype=bool)
    start[..., 1:] = np.asarray(first, dtype=bool)[1:] | (w[..., 1:] != w[..., :-1])
    return start


def stage_start_at(chiplet, window, first, j: int) -> bool:
    """Whether layer ``j`` of one genome (its ``chiplet`` and ``window`` genes, ``[L]`` each)
    starts a stage: the scalar form of :func:`stage_runs`, for code that looks at a few layers
    rather than whole rows (search's move kernels compile it with numba)."""
    return j == 0 or first[j] or chiplet[j] != chiplet[j - 1] or window[j] != window[j - 1]


def group_start_at(window, first, j: int) -> bool:
    """Whether layer ``j`` of one genome starts a group: the scalar form of :func:`group_runs`."""
    return j == 0 or first[j] or window[j] != window[j - 1]


def stage_bounds(chiplet, window, first) -> list[tuple[int, int]]:
    """``[(start, stop), ...]`` of the stages of one genome (global layer indices)."""
    starts = np.flatnonzero(stage_runs(chiplet, window, first)).tolist()
    return list(zip(starts, starts[1:] + [len(np.asarray(chiplet))]))
