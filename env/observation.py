"""The size-independent observation of ``Mapping-v0`` (``obs="dict"``): feature matrices over the
chiplets and the models, padded to fixed sizes with masks, and one vector for the current layer.

Why this form: a policy that reads each chiplet's row with shared weights (and pools over the
rows) sees the same kind of input on a 2x2 and on a 6x6 mesh, with two models or five, so one
policy can be trained on one problem and applied to another. Every feature is a property of the
chiplet, layer or model itself (its dataflow, its place on the mesh, its load), never an index.

Scales. Times and loads are in units of ``share`` (the per-chiplet load of a perfect balance,
:class:`env.features.LayerFeatures`) squashed by ``x / (1 + x)``; sizes are ``log1p(x) / 35``
(absolute, so they compare across workloads; ``e^35`` is about 1.6e15); mesh coordinates are
normalized to ``[0, 1]`` (0.5 on a mesh one chiplet wide). All values lie in ``[0, 1]``.
The tables below are the layout; docs/environment.md repeats them with the action layout.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np

from costmodel.hardware import DATAFLOWS
from costmodel.workload import LAYER_KINDS

from .features import squash

#: per-chiplet columns of ``obs["chiplets"]`` (``[pad_chiplets, len]``)
CHIPLET_FEATURES: tuple[str, ...] = (
    *(f"dataflow_{d}" for d in DATAFLOWS),  # the chiplet's class: dataflow one-hot
    "log2_pes",  # log2(PEs) / 16
    "row",  # row / (rows - 1)
    "col",  # col / (cols - 1)
    "dram_hops",  # hops to the nearest DRAM edge column / 3 (clipped to 1)
    "load_window",  # compute time placed in the current model's current window (squashed)
    "load_total",  # compute time placed over all windows (squashed)
    "l2_weights",  # weight bytes resident in the current window / L2 bytes (squashed: 1 -> 0.5)
    "layer_time",  # the current layer's time on this chiplet at its window's micro-batch
    "chain_producer",  # 1 on the chiplet of the current layer's chain predecessor
    "skip_producers",  # fraction of the current layer's skip producers placed here
    "hops_from_chain",  # mesh hops from the chain predecessor's chiplet / (rows + cols - 2)
)
#: columns of ``obs["layer"]``: the current layer and the episode's state
LAYER_FEATURES: tuple[str, ...] = (
    *(f"kind_{k}" for k in LAYER_KINDS),
    "log_macs",  # whole batch
    "log_weight_bytes",
    "log_output_bytes",  # whole batch
    *(f"time_{d}" for d in DATAFLOWS),  # fastest time on a class of that dataflow (0: none)
    "has_chain",  # 1 unless the model's first layer
    "skips",  # number of skip producers (squashed)
    "position",  # local index / model length
    "progress",  # layers placed / all layers
    "window",  # the current model's window / (max_windows - 1)
    "window_open",  # 1 if that window already holds one of the model's layers
    "can_close",  # the close action is valid
    "can_choose_mb",  # a micro-batch action is valid
)
#: per-model columns of ``obs["models"]`` (``[pad_models, len]``)
MODEL_FEATURES: tuple[str, ...] = (
    "current",  # 1 for the model of the current layer
    "progress",  # its layers placed / its layers
    "window",  # its current window / (max_windows - 1)
    "micro_batch",  # log2(micro-batch of its current window) / log2(batch) (0 for batch 1)
    "log2_batch",  # log2(batch) / 8 (clipped to 1)
    "size",  # its layers / all layers
    "window_open",  # its current window holds one of its layers
    "load",  # compute time of its placed layers / (n share) (squashed)
)

LOG_SCALE = 35.0


def _log(x: np.ndarray) -> np.ndarray:
    return np.minimum(np.log1p(np.maximum(x, 0.0)) / LOG_SCALE, 1.0)


def _unit(i: np.ndarray, size: int) -> np.ndarray:
    return i / (size - 1) if size > 1 else np.full(i.shape, 0.5)


class DictObservation:
    """Builds ``obs="dict"`` observations for a :class:`env.mapping.MappingEnv` (its state is read,
    never changed). Static parts are computed once here; :meth:`build` is O(n + M) per step."""

    def __init__(self, env, pad_chiplets: int, pad_models: int) -> None:
        p = env.problem
        m = p.mcm
        n, L = env.n, env.L
        self.N, self.Mp = pad_chiplets, pad_models
        self.space = gym.spaces.Dict(
            {
                "chiplets": gym.spaces.Box(
                    0.0, 1.0, (pad_chiplets, len(CHIPLET_FEATURES)), np.float32
                ),
                "chiplet_mask": gym.spaces.Box(0.0, 1.0, (pad_chiplets,), np.float32),
                "layer": gym.spaces.Box(0.0, 1.0, (len(LAYER_FEATURES),), np.float32),
                "models": gym.spaces.Box(0.0, 1.0, (pad_models, len(MODEL_FEATURES)), np.float32),
                "model_mask": gym.spaces.Box(0.0, 1.0, (pad_models,), np.float32),
            }
        )
        placement = np.asarray(m.placement)
        self.cls = placement
        static = np.zeros((n, 8), dtype=np.float32)
        df = [DATAFLOWS.index(m.classes[k].dataflow) for k in placement]
        static[np.arange(n), df] = 1.0
        r, c = np.divmod(np.arange(n), m.cols)
        static[:, 5] = np.log2([m.classes[k].pes for k in placement]) / 16.0
        static[:, 6] = _unit(r, m.rows)
        static[:, 7] = _unit(c, m.cols)
        self.static = np.column_stack([static, np.minimum(m.dram_hops / 3.0, 1.0)])
        self.hops = m.hops / max(m.rows + m.cols - 2, 1)
        self.l2 = np.array([m.classes[k].l2_bytes for k in placement], dtype=np.float64)
        self.w_bytes = np.asarray(p.compiled.w_bytes, dtype=np.float64)
        # per layer: skip producers (global indices, chain excluded) and static layer columns
        ix = p.index
        self.skips: list[np.ndarray] = [np.zeros(0, dtype=np.int64)] * L
        for dst in np.unique(ix.edge_dst):
            src = ix.edge_src[ix.edge_dst == dst]
            self.skips[int(dst)] = src[src != dst - 1] if not ix.first[dst] else src
        kinds = np.zeros((L, len(LAYER_KINDS)), dtype=np.float32)
        macs, wb, ob = np.zeros(L), np.zeros(L), np.zeros(L)
        for mi, mod in enumerate(p.workload.models):
            a = int(ix.offset[mi])
            for i, layer in enumerate(mod.layers):
                kinds[a + i, LAYER_KINDS.index(layer.kind)] = 1.0
                macs[a + i] = layer.macs(mod.batch)
                ob[a + i] = layer.output_elems(mod.batch)
            wb[a : a + len(mod)] = self.w_bytes[a : a + len(mod)]
        sizes = np.array([len(mo) for mo in p.workload.models], dtype=np.float64)
        self.layer_static = np.column_stack(
            [
                kinds,
                _log(macs),
                _log(wb),
                _log(ob),
            ]
        ).astype(np.float32)
        self.position = (ix.local / sizes[ix.model]).astype(np.float32)
        # which classes have each dataflow (for the per-dataflow fastest time)
        class_df = np.array([DATAFLOWS.index(k.dataflow) for k in m.classes])
        self.df_classes = [np.flatnonzero(class_df == d) for d in range(len(DATAFLOWS))]
        batch = np.asarray(p.batch, dtype=np.float64)
        self.log2_batch = np.minimum(np.log2(batch) / 8.0, 1.0)
        self.size = sizes / L
        # models[:, micro_batch] for every (model, option): log2(b) / log2(batch), 0 for batch 1
        O = max(len(o) for o in p.mb_options)
        lb = np.log2(batch)
        self.mb_feature = np.zeros((len(sizes), O))
        for i, opts in enumerate(p.mb_options):
            b = np.array([opts[min(j, len(opts) - 1)] for j in range(O)], dtype=np.float64)
            self.mb_feature[i] = np.log2(b) / lb[i] if lb[i] > 0 else 0.0
        self.is_first = np.asarray(p.index.first, dtype=bool)
        self.dyn_offset = len(LAYER_KINDS) + 3 + len(DATAFLOWS)
        # the parts that never change: chiplet statics, the masks, model statics
        self.chip0 = np.zeros((pad_chiplets, len(CHIPLET_FEATURES)), dtype=np.float32)
        self.chip0[:n, :9] = self.static
        self.cmask = np.zeros(pad_chiplets, dtype=np.float32)
        self.cmask[:n] = 1.0
        self.mmask = np.zeros(pad_models, dtype=np.float32)
        self.mmask[: len(sizes)] = 1.0
        self.models0 = np.zeros((pad_models, len(MODEL_FEATURES)), dtype=np.float32)
        self.models0[: len(sizes), 4] = self.log2_batch
        self.models0[: len(sizes), 5] = self.size

    def build(self, e) -> dict[str, np.ndarray]:
        """The observation of environment ``e`` (the one this was built for, or a clone)."""
        n = e.n
        share = e.features.share
        chip = self.chip0.copy()
        layer_vec = np.zeros(len(LAYER_FEATURES), dtype=np.float32)
        models = self.models0.copy()
        chip[:n, 10] = squash(e._load / share)
        w = 0
        if e._k < e.L:
            layer = e._layer()
            m = int(e._model[layer])
            w = int(e._cw[m])
            opt = int(e._mb[m, w])
            t_cls = e.class_time[layer, opt]  # [K]
            chip[:n, 12] = squash(t_cls[self.cls] / share)
            has_chain = not self.is_first[layer]
            if has_chain:
                pc = int(e._chiplet[layer - 1])
                chip[pc, 13] = 1.0
                chip[:n, 15] = self.hops[pc]
            sk = self.skips[layer]
            if len(sk):
                chip[:n, 14] = np.bincount(e._chiplet[sk], minlength=n)[:n] / len(sk)
            nk = len(LAYER_KINDS) + 3
            layer_vec[:nk] = self.layer_static[layer]
            for d, ks in enumerate(self.df_classes):
                if len(ks):
                    layer_vec[nk + d] = squash(t_cls[ks].min() / share)
            j = self.dyn_offset
            layer_vec[j] = float(has_chain)
            layer_vec[j + 1] = squash(float(len(sk)))
            layer_vec[j + 2] = self.position[layer]
            layer_vec[j + 4] = w / (e.W - 1) if e.W > 1 else 0.5
            open_ = e._in_window[m] > 0
            layer_vec[j + 5] = float(open_)
            layer_vec[j + 6] = float(e.can_close(m))  # as action_masks() says
            layer_vec[j + 7] = float(
                bool(e.mb_slots) and not open_ and not e._mb_set[m] and e._n_opts[m] > 1
            )
            models[m, 0] = 1.0
        layer_vec[self.dyn_offset + 3] = e._k / e.L
        chip[:n, 9] = squash(e._wload[w] / share)
        chip[:n, 11] = squash(e._wres[w] / self.l2)
        M = e.M
        models[:M, 1] = e._placed / (self.size * e.L)
        models[:M, 2] = _unit(e._cw, e.W)
        models[:M, 3] = self.mb_feature[np.arange(M), e._mb[np.arange(M), e._cw]]
        models[:M, 6] = e._in_window > 0
        models[:M, 7] = squash(e._mload / (n * share))
        return {
            "chiplets": chip,
            "chiplet_mask": self.cmask.copy(),
            "layer": layer_vec,
            "models": models,
            "model_mask": self.mmask.copy(),
        }
