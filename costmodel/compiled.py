"""The compiled form of a problem: every static array an evaluator needs, built once, frozen.

Each evaluator backend is a pure function of ``(CompiledProblem, genomes)``; none reads a
:class:`~costmodel.problem.Problem`'s attributes. ``Problem.compiled`` builds it on first use.
Pickling keeps it (plain numpy arrays), so worker processes do not rebuild it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

PJ = 1e-12

# columns of the numba kernel's per-(option, layer) table ``lo``
LO_NMB, LO_IN_T, LO_IN_TOT, LO_OUT_T, LO_OUT_TOT, LO_CH_NOP_T, LO_CH_RD_T, LO_CH_TOT, LO_IO_BP = (
    range(9)
)
LO_COLS = 9
# columns of the per-(consumer's option, skip edge) table ``sk``
SK_NOP_T, SK_RD_T, SK_TOT = range(3)


@dataclass(frozen=True, eq=False)
class CompiledProblem:
    """Static arrays of a problem. ``L`` layers (models concatenated), ``M`` models, ``W``
    windows, ``K`` chiplet classes, ``O`` micro-batch options (per model, padded), ``n`` chiplets
    on a ``rows x cols`` mesh."""

    n_layers: int
    n_models: int
    max_windows: int
    n_classes: int
    n_options: int
    rows: int
    cols: int
    # per layer
    model: np.ndarray  # [L] model of each layer
    first: np.ndarray  # [L] bool: first layer of its model
    last: np.ndarray  # [L] bool: last layer of its model
    skip_src: np.ndarray  # [E] producer of each skip edge (not the chain edge l-1 -> l)
    skip_dst: np.ndarray  # [E] consumer
    t: np.ndarray  # [L, K, O] compute seconds per micro-batch
    e: np.ndarray  # [L, K, O] compute energy J per micro-batch (MAC + L1/L2)
    e_mac: np.ndarray  # [L, K, O] of which MAC (and fused-op) energy
    out_ps: np.ndarray  # [L] output bytes per sample
    in_ps: np.ndarray  # [L] input activation bytes per sample
    w_bytes: np.ndarray  # [L] weight bytes
    # per model
    offset: np.ndarray  # [M] global index of each model's first layer
    size: np.ndarray  # [M] layers of each model
    batch: np.ndarray  # [M] batch of each model
    bsize: np.ndarray  # [M, O] micro-batch size of each option (padded with the last one)
    n_opts: np.ndarray  # [M] real options of each model
    nvec: np.ndarray  # [G] exclusive upper bound of every gene (Problem.nvec)
    # per chiplet and mesh
    l2: np.ndarray  # [K] L2 bytes of each class
    placement: np.ndarray  # [n] class of each chiplet
    dram_hops: np.ndarray  # [n] hops to the nearest DRAM edge column
    link_of: np.ndarray  # [n_links] mcm.links index of kernel slots east, west, south, north
    # NoP and DRAM
    dram_bw: float
    dram_latency_s: float
    nop_bw: float
    nop_hop_s: float
    nop_pj_per_bit: float
    dram_pj_per_bit: float

    @property
    def n_chiplets(self) -> int:
        return self.rows * self.cols

    @property
    def n_links(self) -> int:
        return len(self.link_of)

    @property
    def genome_length(self) -> int:
        return 2 * self.n_layers + self.n_models * self.max_windows

    @cached_property
    def kernel(self) -> tuple:
        """The numba kernel's static arguments (plain numpy, built without numba)."""
        return _kernel_arrays(self)


def compile_problem(problem) -> CompiledProblem:
    """Build the :class:`CompiledProblem` of a :class:`~costmodel.problem.Problem`."""
    wl, mcm = problem.workload, problem.mcm
    opts = problem.mb_options
    O = max(len(o) for o in opts)
    K, L = len(mcm.classes), problem.n_layers
    t, e, e_mac = np.zeros((L, K, O)), np.zeros((L, K, O)), np.zeros((L, K, O))
    bsize = np.array([o + [o[-1]] * (O - len(o)) for o in opts], dtype=np.int64)
    offset, sizes = [], []
    g = 0
    model, src, dst = [], [], []
    for m, mod in enumerate(wl.models):
        offset.append(g)
        sizes.append(len(mod))
        for j in range(O):
            c = problem.table.model(m, int(bsize[m, j]))
            t[g : g + len(mod), :, j] = c.latency_s
            e[g : g + len(mod), :, j] = c.energy_pj * PJ
            e_mac[g : g + len(mod), :, j] = c.energy_mac_pj * PJ
        for i, layer in enumerate(mod.layers):
            model.append(m)
            for s in layer.skips:
                if s != i - 1:
                    src.append(g + s)
                    dst.append(g + i)
        g += len(mod)
    model_a = np.array(model, dtype=np.int64)
    local = np.arange(L) - np.array(offset, dtype=np.int64)[model_a]
    size_a = np.array(sizes, dtype=np.int64)
    db = mcm.classes[0].data_bytes
    layers = [layer for mod in wl.models for layer in mod.layers]
    ids = {lk: i for i, lk in enumerate(mcm.links)}
    R, Cn = mcm.rows, mcm.cols
    east = [ids[(r * Cn + j, r * Cn + j + 1)] for r in range(R) for j in range(Cn - 1)]
    west = [ids[(r * Cn + j + 1, r * Cn + j)] for r in range(R) for j in range(Cn - 1)]
    south = [ids[(j * Cn + c, (j + 1) * Cn + c)] for c in range(Cn) for j in range(R - 1)]
    north = [ids[((j + 1) * Cn + c, j * Cn + c)] for c in range(Cn) for j in range(R - 1)]
    return CompiledProblem(
        n_layers=L,
        n_models=len(wl.models),
        max_windows=problem.max_windows,
        n_classes=K,
        n_options=O,
        rows=R,
        cols=Cn,
        model=model_a,
        first=local == 0,
        last=local == size_a[model_a] - 1,
        skip_src=np.array(src, dtype=np.int64),
        skip_dst=np.array(dst, dtype=np.int64),
        t=t,
        e=e,
        e_mac=e_mac,
        out_ps=np.array([x.output_elems(1) * db for x in layers], dtype=np.float64),
        in_ps=np.array([x.input_elems(1) * db for x in layers], dtype=np.float64),
        w_bytes=np.array([x.weight_elems() * db for x in layers], dtype=np.float64),
        offset=np.array(offset, dtype=np.int64),
        size=size_a,
        batch=np.array([m.batch for m in wl.models], dtype=np.int64),
        bsize=bsize,
        n_opts=np.array([len(o) for o in opts], dtype=np.int64),
        nvec=problem.nvec,
        l2=np.array([c.l2_bytes for c in mcm.classes], dtype=np.float64),
        placement=np.array(mcm.placement, dtype=np.int64),
        dram_hops=np.asarray(mcm.dram_hops, dtype=np.float64),
        link_of=np.array(east + west + south + north, dtype=np.int64),
        dram_bw=float(mcm.dram_bw),
        dram_latency_s=float(mcm.dram_latency_s),
        nop_bw=float(mcm.nop_bw),
        nop_hop_s=float(mcm.nop_hop_s),
        nop_pj_per_bit=float(mcm.nop_pj_per_bit),
        dram_pj_per_bit=float(mcm.dram_pj_per_bit),
    )


def repair_genomes(cp: CompiledProblem, genomes) -> np.ndarray:
    """Genes clipped into range and windows made non-decreasing along each model's chain
    (running maximum), ``[P, G]`` int64."""
    g = np.clip(np.atleast_2d(np.asarray(genomes)).astype(np.int64), 0, cp.nvec - 1)
    L = cp.n_layers
    # one running maximum over all models at once: model m's windows lifted by m W, so a
    # model's maximum never reaches into the next one (clipped windows are < W)
    lift = cp.model * cp.max_windows
    g[:, L : 2 * L] = np.maximum.accumulate(g[:, L : 2 * L] + lift, axis=1) - lift
    return g


def _kernel_arrays(cp: CompiledProblem) -> tuple:
    """Per (micro-batch option, layer): the seconds and bytes of every transfer, with the same
    float operations as the numpy evaluator, in the numba kernel's argument order."""
    L, M, W, K, O = cp.n_layers, cp.n_models, cp.max_windows, cp.n_classes, cp.n_options
    bp = cp.bsize.astype(np.float64)[cp.model]  # [L, O]
    nmb = cp.batch[cp.model][:, None] / bp
    lko = np.empty((O, L, K, 3))
    lko[..., 0] = cp.t.transpose(2, 0, 1)
    lko[..., 1] = (cp.e * nmb[:, None, :]).transpose(2, 0, 1)
    lko[..., 2] = (cp.e_mac * nmb[:, None, :]).transpose(2, 0, 1)
    lo = np.zeros((L, O, LO_COLS))
    lo[..., LO_NMB] = nmb
    nb_in = cp.in_ps[:, None] * bp
    lo[..., LO_IN_T] = nb_in / cp.dram_bw
    lo[..., LO_IN_TOT] = nb_in * nmb
    nb_out = cp.out_ps[:, None] * bp
    lo[..., LO_OUT_T] = nb_out / cp.dram_bw
    lo[..., LO_OUT_TOT] = nb_out * nmb
    nb_ch = np.zeros((L, O))
    nb_ch[1:] = cp.out_ps[:-1, None] * bp[1:]  # chain edge l-1 -> l at the consumer's option
    lo[..., LO_CH_NOP_T] = nb_ch / cp.nop_bw
    lo[..., LO_CH_RD_T] = nb_ch / cp.dram_bw
    lo[..., LO_CH_TOT] = nb_ch * nmb
    lo[..., LO_IO_BP] = (cp.in_ps + cp.out_ps)[:, None] * bp
    a, b = cp.skip_src, cp.skip_dst
    E = len(a)
    nb_s = cp.out_ps[a][:, None] * bp[b]  # [E, O]
    sk = np.empty((E, O, 3))
    sk[..., SK_NOP_T] = nb_s / cp.nop_bw
    sk[..., SK_RD_T] = nb_s / cp.dram_bw
    sk[..., SK_TOT] = nb_s * nmb[b]
    n = cp.n_chiplets
    cr, cc = np.divmod(np.arange(n), cp.cols)

    def i64(x):
        return np.ascontiguousarray(x, dtype=np.int64)

    def f64(x):
        return np.ascontiguousarray(x, dtype=np.float64)

    dhop = f64(cp.dram_hops)
    return (
        i64([L, M, W, K, O, cp.rows, cp.cols, E]),
        i64(cp.model),
        np.ascontiguousarray(cp.first, dtype=np.bool_),
        np.ascontiguousarray(cp.last, dtype=np.bool_),
        f64(cp.w_bytes),
        f64(lko.reshape(O * L * K, 3)),
        f64(lo.transpose(1, 0, 2).reshape(O * L, LO_COLS)),
        i64(a),
        i64(b),
        f64(sk.transpose(1, 0, 2).reshape(O * E, 3)),
        i64(cp.placement),
        i64(cr),
        i64(cc),
        f64(cp.l2[cp.placement]),
        dhop,
        f64(cp.dram_latency_s + dhop * cp.nop_hop_s),
        i64(cp.link_of),
        i64(cp.nvec),
        i64(cp.offset),
        i64(cp.size),
        f64(
            [
                cp.dram_bw,
                cp.nop_bw,
                cp.nop_hop_s,
                float(cp.batch.sum()),
                cp.nop_pj_per_bit,
                cp.dram_pj_per_bit,
            ]
        ),
    )
