"""Static per-layer arrays for the mapping environment, computed once so a step is O(n).

Every quantity is for a model's whole batch at the micro-batch the environment uses, so per-layer
times add up to chiplet busy time (the load the agent balances).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from costmodel import Problem


@dataclass(frozen=True)
class LayerFeatures:
    """Per-layer arrays over the ``L`` layers in global (model-concatenated) order."""

    order: np.ndarray  # [L] global layer index placed at placement step k
    mb_index: np.ndarray  # [M] micro-batch option index every window of a model uses
    static: np.ndarray  # [L, 3 + K] log MACs, log weight bytes, log output bytes, class times
    time: np.ndarray  # [L, n] whole-batch compute time of each layer on each chiplet (seconds)
    share: float  # balanced load per chiplet: sum over layers of the fastest class time / n


def interleaved_order(p: Problem) -> np.ndarray:
    """Round-robin by progress fraction: layer ``i`` of a model with ``L_m`` layers comes at
    fraction ``(i + 1) / L_m``; layers are sorted by that fraction, ties by model index. Models
    thus advance in proportion to their length, and each model's layers stay in chain order."""
    ix = p.index
    sizes = np.array([len(m) for m in p.workload.models])
    frac = (ix.local + 1) / sizes[ix.model]  # equal rationals give equal floats (exact division)
    return np.lexsort((ix.model, frac)).astype(np.int64)


def squash(x: np.ndarray | float) -> np.ndarray | float:
    """Map ``[0, inf)`` to ``[0, 1)``, ``1 -> 0.5``: bounded observations without clipping."""
    return x / (1.0 + x)


def class_times(p: Problem) -> np.ndarray:
    """``[L, O, K]`` whole-batch compute time of each layer on each chiplet class at each of its
    model's micro-batch options (``p.mb_options``, ascending); ``O`` is the most options any
    model has, and a model with fewer repeats its last option (never chosen: masked)."""
    O = max(len(o) for o in p.mb_options)
    out = np.zeros((p.n_layers, O, len(p.mcm.classes)))
    for m, opts in enumerate(p.mb_options):
        a = int(p.index.offset[m])
        for j in range(O):
            b = opts[min(j, len(opts) - 1)]
            c = p.table.model(m, b)
            out[a : a + c.latency_s.shape[0], j] = c.latency_s * (p.workload.models[m].batch / b)
    return out


def layer_features(p: Problem, micro_batch: str) -> LayerFeatures:
    """Features of every layer at the ``"min"`` or ``"max"`` micro-batch option (``"choose"``
    starts every window at ``"min"``)."""
    M, L = p.n_models, p.n_layers
    placement = np.asarray(p.mcm.placement)
    K = len(p.mcm.classes)
    mb_index = np.array(
        [0 if micro_batch == "min" else len(o) - 1 for o in p.mb_options], dtype=np.int64
    )
    macs, wbytes, obytes = np.zeros(L), np.zeros(L), np.zeros(L)
    t_class = np.zeros((L, K))
    for m in range(M):
        b = p.mb_options[m][mb_index[m]]
        n_mb = p.workload.models[m].batch / b
        c = p.table.model(m, b)
        a = int(p.index.offset[m])
        sl = slice(a, a + c.macs.shape[0])
        macs[sl] = c.macs[:, 0] * n_mb
        wbytes[sl] = c.weight_bytes[:, 0]
        obytes[sl] = c.output_bytes[:, 0] * n_mb
        t_class[sl] = c.latency_s * n_mb
    share = float(t_class.min(axis=1).sum() / p.mcm.n_chiplets)
    share = share if share > 0 else 1.0
    logs = [np.log1p(x) for x in (macs, wbytes, obytes)]
    logs = [x / x.max() if x.max() > 0 else x for x in logs]
    static = np.column_stack([*logs, squash(t_class / share)]).astype(np.float32)
    return LayerFeatures(
        order=interleaved_order(p),
        mb_index=mb_index,
        static=static,
        time=t_class[:, placement],
        share=share,
    )
