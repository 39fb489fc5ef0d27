"""Hand-worked schedules: every expected figure is worked out by hand, in the comments, from the
constants of SCAR Table II and the layer sizes, following docs/evaluation.md; nothing is copied
from the code's output, and no constant is imported from ``costmodel.constants`` (a changed
constant must change the evaluators' figures, not the expectations).

Each case is checked against all four evaluators: the reference (``problem.evaluate``), the numpy
and numba batch evaluators (``problem.evaluate_batch(..., backend=...)``) and the discrete-event
simulator (``costmodel.simulate``), to 1e-9 relative.

Units and constants used by hand (SCAR Table II, README):
    clock 500 MHz             -> 1 cycle = 2 ns
    NoP 100 GB/s per link     -> B bytes take B / 100 ns; 35 ns per hop; 2.04 pJ per bit per hop
    DRAM 64 GB/s              -> B bytes take B / 64 ns; 200 ns per transfer; 14.8 pJ per bit
    DRAM fixed cost of a transfer from chiplet c = 200 ns + hops_to_edge(c) x 35 ns
    (DRAM interfaces on the left and right edge columns; XY routing; hops = Manhattan distance)
    MAC 0.23 pJ; data width 1 byte

Per-layer figures (docs/design.md, Per-layer cost model). Cycles by hand: the chiplets are ``ws``
(MAESTRO KCP-WS, 64 x 64 PEs) with unconstrained L2->PE bandwidth and no transfer latency unless
said otherwise, where a 1x1 layer with K <= 64 output channels over P output pixels (x batch)
takes ``ceil(C / 64) x P`` cycles; an output-stationary 1x1 layer within one 64 x 64 output tile
takes ``K x C`` cycles; an element-wise layer (pool) ``ceil(ops / 4096)`` cycles, or with the
default L2->PE network (64 elements per cycle, 1 cycle per transfer) at least
``1 + ceil((input + output) / 64) - 1``. Compute energy by hand: MACs x 0.23 pJ. On-chip energy
(L1 and L2 accesses, 1.68 and 18.61 MACs each by MAESTRO's counting rules) is taken from the
per-layer model (``costmodel.layer_cost``; ``tests/test_maestro_reference.py`` holds its counts
to MAESTRO's), per layer and micro-batch size: the schedule-level arithmetic around it (x n_mb,
sums over layers, stages and windows) is by hand.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest

from costmodel import Layer, Model, Problem, Schedule, Workload, layer_cost, mcm, simulate

NS = 1e-9
REL = 1e-9


def layer_j(p, layer, chiplet: int, b: int, macs: int) -> tuple[float, float]:
    """(compute J, on-chip J) of one layer for one micro-batch of ``b`` samples on ``chiplet``.

    Compute energy by hand: ``macs`` (worked out in each case) x 0.23 pJ; the per-layer model
    must count the same MACs. On-chip energy (L1 and L2 accesses, MAESTRO's counting rules) is
    the per-layer model's (``costmodel.layer_cost``, held against MAESTRO by
    ``tests/test_maestro_reference.py``): what a schedule does with it (x n_mb, summed over
    layers and windows) is what is checked here.
    """
    lc = layer_cost(layer, p.mcm.chiplet_class(chiplet), b)
    assert lc.macs == macs, f"{layer.name}: the per-layer model counts {lc.macs} MACs, not {macs}"
    return macs * 0.23e-12, (lc.energy_l1_pj + lc.energy_l2_pj) * 1e-12


def unconstrained(**kw) -> dict:
    """Chiplet-class overrides: L2->PE bandwidth unconstrained, so cycles follow the folds."""
    return dict(noc_bw=None, noc_latency=0, **kw)


def nop_j(bits_x_hops: float) -> float:
    return bits_x_hops * 2.04e-12


def dram_j(nbytes: float) -> float:
    return nbytes * 8 * 14.8e-12


# ------------------------------------------------------------------------------------------------
# The cases. Each returns (problem, schedule, expected). ``expected`` keys:
#   latency, windows (window latencies), compute/onchip/nop/dram (energy J), throughput,
#   dram_bytes, links {directed link: bytes} (every other link carries 0), stages [(t, once, n_mb)]
#   in global stage order, busy {chiplet: seconds over all windows} (others 0).
# ------------------------------------------------------------------------------------------------


def case_chain_one_chiplet():
    """(1) A two-layer chain on one chiplet: one stage, its weights loaded once, 2 micro-batches."""
    a = Model(
        "a",
        [Layer.conv("l0", K=48, C=16, Yo=10), Layer.conv("l1", K=24, C=48, Yo=10)],
        batch=2,
    )
    p = Problem(Workload([a]), mcm("homo-ws", 1, 2, **unconstrained()), max_windows=1)
    s = Schedule(window=[[0, 0]], chiplet=[[0, 0]], micro_batch=[{0: 1}])
    # micro-batch b' = 1, n_mb = 2; chiplet 0 is on the left edge column (0 hops to DRAM).
    # l0: 1x1, K=48, C=16, 10x10: 1 x 100 = 100 cycles = 200 ns; input 16*100 = 1600 B,
    #     output 48*100 = 4800 B, weights 48*16 = 768 B; MACs 48*16*100 = 76800
    # l1: K=24, C=48, 10x10: 100 cycles = 200 ns; output 2400 B, weights 1152 B; MACs 115200
    # resident weights 768 + 1152 = 1920 B <= 10 MiB: loaded once, 1920/64 + 200 = 230 ns
    # t = 200 + 200 + (1600/64 + 200) input + (2400/64 + 200) output = 862.5 ns
    t = (200 + 200 + (1600 / 64 + 200) + (2400 / 64 + 200)) * NS
    once = (1920 / 64 + 200) * NS
    # fixed order on chiplet 0: load, run 0, run 1 -> 230 + 2 x 862.5 = 1955 ns
    latency = once + 2 * t
    # DRAM: 2 x 1600 + 2 x 2400 + 1920 = 9920 B -> 155 ns (does not bind)
    c0, o0 = layer_j(p, a.layers[0], chiplet=0, b=1, macs=48 * 16 * 100)
    c1, o1 = layer_j(p, a.layers[1], chiplet=0, b=1, macs=24 * 48 * 100)
    return (
        p,
        s,
        dict(
            latency=latency,
            windows=[latency],
            compute=2 * (c0 + c1),
            onchip=2 * (o0 + o1),
            nop=0.0,
            dram=dram_j(9920),
            throughput=2 / latency,  # period = chiplet 0's busy time 1955 ns
            dram_bytes=9920,
            links={},
            stages=[(t, once, 2)],
            busy={0: latency},
        ),
    )


def case_chain_two_chiplets():
    """(2) A chain across two chiplets of one window: NoP bytes, 2 hops, hop latency."""
    a = Model(
        "a",
        [Layer.conv("l0", K=40, C=8, Yo=12), Layer.conv("l1", K=16, C=40, Yo=12)],
        batch=1,
    )
    p = Problem(Workload([a]), mcm("homo-ws", 2, 2, **unconstrained()), max_windows=1)
    s = Schedule(window=[[0, 0]], chiplet=[[0, 3]], micro_batch=[{0: 1}])
    # 2x2 mesh: chiplet 0 = (0,0), chiplet 3 = (1,1): 2 hops, XY route 0->1, 1->3; both chiplets
    # sit on an edge column (0 hops to DRAM).
    # l0: K=40, C=8, 12x12: 144 cycles = 288 ns; input 8*144 = 1152 B, output 40*144 = 5760 B,
    #     weights 320 B; MACs 40*8*144 = 46080
    # l1: K=16, C=40: 144 cycles = 288 ns; output 16*144 = 2304 B, weights 640 B; MACs 92160
    # stage 0 on c0: t0 = 288 + (1152/64 + 200) = 506 ns, load 320/64 + 200 = 205 ns
    # stage 1 on c3: t1 = 288 + (5760/100 + 2 x 35) + (2304/64 + 200) = 651.6 ns,
    #     load 640/64 + 200 = 210 ns
    t0 = (288 + (1152 / 64 + 200)) * NS
    t1 = (288 + (5760 / 100 + 2 * 35) + (2304 / 64 + 200)) * NS
    once0, once1 = (320 / 64 + 200) * NS, (640 / 64 + 200) * NS
    # recursion: free[c0] = 205, free[c3] = 210; run(0,0) ends 205 + 506 = 711;
    # run(1,0) ends max(711, 210) + 651.6 = 1362.6 ns
    latency = once0 + t0 + t1
    c0, o0 = layer_j(p, a.layers[0], chiplet=0, b=1, macs=40 * 8 * 144)
    c1, o1 = layer_j(p, a.layers[1], chiplet=3, b=1, macs=16 * 40 * 144)
    return (
        p,
        s,
        dict(
            latency=latency,
            windows=[latency],
            compute=c0 + c1,
            onchip=o0 + o1,
            nop=nop_j(5760 * 8 * 2),
            dram=dram_j(1152 + 2304 + 320 + 640),
            # busiest resource: chiplet 3, 210 + 651.6 = 861.6 ns (c0: 711; DRAM 4416/64 = 69 ns)
            throughput=1 / (once1 + t1),
            dram_bytes=1152 + 2304 + 320 + 640,
            links={(0, 1): 5760, (1, 3): 5760},
            stages=[(t0, once0, 1), (t1, once1, 1)],
            busy={0: once0 + t0, 3: once1 + t1},
        ),
    )


def case_handoff_across_windows():
    """(3) A hand-off across windows through DRAM, with a different micro-batch in each window."""
    a = Model(
        "a",
        [Layer.gemm("g0", M=20, N=32, K=48), Layer.gemm("g1", M=20, N=16, K=32)],
        batch=4,
    )
    p = Problem(Workload([a]), mcm("homo-ws", 1, 2, **unconstrained()), max_windows=2)
    s = Schedule(window=[[0, 1]], chiplet=[[0, 1]], micro_batch=[{0: 2, 1: 4}])
    # g0 in window 0 on c0 at b' = 2 (n_mb = 2); g1 in window 1 on c1 at b' = 4 (n_mb = 1).
    # g0 per sample: input 20*48 = 960 B, output 20*32 = 640 B; weights 32*48 = 1536 B.
    #   at b' = 2: M = 40 -> 40 cycles = 80 ns; MACs 32*48*40 = 61440
    # g1 per sample: output 20*16 = 320 B; weights 16*32 = 512 B.
    #   at b' = 4: M = 80 -> 80 cycles = 160 ns; MACs 16*32*80 = 40960
    # window 0: t0 = 80 + (1920/64 + 200) model input + (1280/64 + 200) the producer writes its
    #   640 x 2 B output = 530 ns; load 1536/64 + 200 = 224 ns; 224 + 2 x 530 = 1284 ns
    t0 = (80 + (1920 / 64 + 200) + (1280 / 64 + 200)) * NS
    once0 = (1536 / 64 + 200) * NS
    w0 = once0 + 2 * t0
    # window 1: t1 = 160 + (2560/64 + 200) the consumer reads 640 x 4 B + (1280/64 + 200) model
    #   output 320 x 4 B = 620 ns; load 512/64 + 200 = 208 ns; 208 + 620 = 828 ns
    t1 = (160 + (2560 / 64 + 200) + (1280 / 64 + 200)) * NS
    once1 = (512 / 64 + 200) * NS
    w1 = once1 + t1
    # DRAM bytes: window 0: 2 x 1920 + 2 x 1280 + 1536 = 7936; window 1: 2560 + 1280 + 512 = 4352
    c0, o0 = layer_j(p, a.layers[0], chiplet=0, b=2, macs=32 * 48 * 40)
    c1, o1 = layer_j(p, a.layers[1], chiplet=1, b=4, macs=16 * 32 * 80)
    return (
        p,
        s,
        dict(
            latency=w0 + w1,  # 2112 ns
            windows=[w0, w1],
            compute=2 * c0 + c1,
            onchip=2 * o0 + o1,
            nop=0.0,
            dram=dram_j(7936 + 4352),
            throughput=4 / w0,  # period: chiplet 0 busy 1284 ns (c1 828, DRAM 12288/64 = 192)
            dram_bytes=7936 + 4352,
            links={},
            stages=[(t0, once0, 2), (t1, once1, 1)],
            busy={0: w0, 1: w1},
        ),
    )


def case_skip_edge_across_chiplets():
    """(4) A skip edge l0 -> l2 across chiplets (2 hops), beside the chain l0 -> l1 -> l2, for
    2 micro-batches."""
    a = Model(
        "a",
        [
            Layer.conv("l0", K=24, C=8, Yo=6),
            Layer.conv("l1", K=24, C=24, Yo=6),
            Layer.conv("l2", K=8, C=48, Yo=6, skips=(0,)),
        ],
        batch=2,
    )
    p = Problem(Workload([a]), mcm("homo-ws", 2, 2, **unconstrained()), max_windows=1)
    s = Schedule(window=[[0, 0, 0]], chiplet=[[0, 1, 3]], micro_batch=[{0: 1}])
    # b' = 1, n_mb = 2; every layer: 6x6 = 36 cycles = 72 ns.
    # l0: input 8*36 = 288 B, output 24*36 = 864 B, weights 192 B, MACs 24*8*36 = 6912
    # l1: output 864 B, weights 576 B, MACs 24*24*36 = 20736
    # l2: input 48*36 = 1728 B, output 8*36 = 288 B, weights 384 B, MACs 8*48*36 = 13824
    # s0 on c0: 72 + (288/64 + 200) = 276.5 ns; load 192/64 + 200 = 203 ns
    # s1 on c1: 72 + (864/100 + 35) = 115.64 ns; load 576/64 + 200 = 209 ns
    # s2 on c3: 72 + (864/100 + 35) chain from c1 + (864/100 + 2 x 35) skip from c0
    #           + (288/64 + 200) output = 398.78 ns; load 384/64 + 200 = 206 ns
    t0 = (72 + (288 / 64 + 200)) * NS
    t1 = (72 + (864 / 100 + 35)) * NS
    t2 = (72 + (864 / 100 + 35) + (864 / 100 + 2 * 35) + (288 / 64 + 200)) * NS
    once0, once1, once2 = (192 / 64 + 200) * NS, (576 / 64 + 200) * NS, (384 / 64 + 200) * NS
    # j = 0: 203 + 276.5 = 479.5; max(479.5, 209) + 115.64 = 595.14; max(595.14, 206) + 398.78
    #        = 993.92
    # j = 1: 479.5 + 276.5 = 756; max(756, 595.14) + 115.64 = 871.64; max(871.64, 993.92)
    #        + 398.78 = 1392.7 ns
    latency = once0 + t0 + t1 + 2 * t2
    assert abs(latency / NS - 1392.7) < 1e-6
    # links: 0->1 carries the chain 864 B and the skip 864 B (XY: X first in row 0), 1->3 both,
    # per micro-batch; NoP energy: 2 x (864 x 1 + 864 x 1 + 864 x 2 hops) x 8 bits x 2.04 pJ
    c0, o0 = layer_j(p, a.layers[0], chiplet=0, b=1, macs=24 * 8 * 36)
    c1, o1 = layer_j(p, a.layers[1], chiplet=1, b=1, macs=24 * 24 * 36)
    c2, o2 = layer_j(p, a.layers[2], chiplet=3, b=1, macs=8 * 48 * 36)
    dram_bytes = 2 * (288 + 288) + 192 + 576 + 384  # 2304 B
    return (
        p,
        s,
        dict(
            latency=latency,
            windows=[latency],
            compute=2 * (c0 + c1 + c2),
            onchip=2 * (o0 + o1 + o2),
            nop=nop_j(2 * (864 + 864 + 2 * 864) * 8),
            dram=dram_j(dram_bytes),
            throughput=2 / (once2 + 2 * t2),  # busiest: c3, 206 + 2 x 398.78 = 1003.56 ns
            dram_bytes=dram_bytes,
            links={(0, 1): 2 * 1728, (1, 3): 2 * 1728},
            stages=[(t0, once0, 2), (t1, once1, 2), (t2, once2, 2)],
            busy={0: once0 + 2 * t0, 1: once1 + 2 * t1, 3: once2 + 2 * t2},
        ),
    )


def case_activation_spill():
    """(5) Activations that spill from a 4 KiB L2 beside resident weights."""
    a = Model(
        "a",
        [Layer.conv("l0", K=32, C=16, Yo=8), Layer.conv("l1", K=8, C=32, Yo=8)],
        batch=2,
    )
    p = Problem(Workload([a]), mcm("homo-ws", 1, 2, **unconstrained(l2_bytes=4096)), max_windows=1)
    s = Schedule(window=[[0, 0]], chiplet=[[1, 1]], micro_batch=[{0: 2}])
    # chiplet 1 (right edge, 0 hops); b' = 2, n_mb = 1; P = 8*8*2 = 128 pixels per micro-batch.
    # l0: K=32, C=16: 128 cycles = 256 ns; per sample input 1024 B, output 2048 B; weights 512 B;
    #     MACs 32*16*128 = 65536
    # l1: K=8, C=32: 128 cycles = 256 ns; per sample input 2048 B, output 512 B; weights 256 B;
    #     MACs 8*32*128 = 32768
    # resident weights 768 B <= 4096: they stay (load 768/64 + 200 = 212 ns); room 4096 - 768 = 3328
    # l0 spills (1024 + 2048) x 2 - 3328 = 2816 B: out and back, 2 x 2816 / 64 = 88 ns
    # l1 spills (2048 + 512) x 2 - 3328 = 1792 B: 2 x 1792 / 64 = 56 ns
    # t = 256 + 256 + 88 + 56 + (2048/64 + 200) input + (1024/64 + 200) output = 1104 ns
    t = (256 + 256 + 2 * 2816 / 64 + 2 * 1792 / 64 + (2048 / 64 + 200) + (1024 / 64 + 200)) * NS
    once = (768 / 64 + 200) * NS
    latency = once + t  # 1316 ns
    # DRAM bytes: 2048 + 1024 + 768 + 2 x 2816 + 2 x 1792 = 13056 (204 ns, does not bind)
    dram_bytes = 2048 + 1024 + 768 + 2 * 2816 + 2 * 1792
    c0, o0 = layer_j(p, a.layers[0], chiplet=1, b=2, macs=32 * 16 * 128)
    c1, o1 = layer_j(p, a.layers[1], chiplet=1, b=2, macs=8 * 32 * 128)
    return (
        p,
        s,
        dict(
            latency=latency,
            windows=[latency],
            compute=c0 + c1,
            onchip=o0 + o1,
            nop=0.0,
            dram=dram_j(dram_bytes),
            throughput=2 / latency,
            dram_bytes=dram_bytes,
            links={},
            stages=[(t, once, 1)],
            busy={1: latency},
        ),
    )


def case_weights_reload():
    """(6) Weights that do not fit L2 (each layer's would, the chiplet's sum does not): reloaded
    every micro-batch."""
    a = Model(
        "a",
        [Layer.gemm("g0", M=16, N=64, K=48), Layer.gemm("g1", M=16, N=40, K=64)],
        batch=3,
    )
    p = Problem(Workload([a]), mcm("homo-ws", 1, 2, **unconstrained(l2_bytes=4096)), max_windows=1)
    s = Schedule(window=[[0, 0]], chiplet=[[0, 0]], micro_batch=[{0: 1}])
    # b' = 1, n_mb = 3. g0: 16 cycles = 32 ns; input 16*48 = 768 B, output 16*64 = 1024 B,
    #   weights 64*48 = 3072 B, MACs 64*48*16 = 49152.
    # g1: 16 cycles = 32 ns; output 16*40 = 640 B, weights 40*64 = 2560 B, MACs 40*64*16 = 40960.
    # resident 3072 + 2560 = 5632 B > 4096: no load task; the stage reloads every micro-batch,
    #   5632/64 + 200 = 288 ns. Activations: (768 + 1024), (1024 + 640) <= 4096: no spill.
    # t = 32 + 32 + (768/64 + 200) + (640/64 + 200) + (5632/64 + 200) = 774 ns; 3 x 774 = 2322 ns
    t = (32 + 32 + (768 / 64 + 200) + (640 / 64 + 200) + (5632 / 64 + 200)) * NS
    latency = 3 * t
    dram_bytes = 3 * (768 + 640 + 5632)  # 21120 B, 330 ns
    c0, o0 = layer_j(p, a.layers[0], chiplet=0, b=1, macs=64 * 48 * 16)
    c1, o1 = layer_j(p, a.layers[1], chiplet=0, b=1, macs=40 * 64 * 16)
    return (
        p,
        s,
        dict(
            latency=latency,
            windows=[latency],
            compute=3 * (c0 + c1),
            onchip=3 * (o0 + o1),
            nop=0.0,
            dram=dram_j(dram_bytes),
            throughput=3 / latency,
            dram_bytes=dram_bytes,
            links={},
            stages=[(t, 0.0, 3)],
            busy={0: latency},
        ),
    )


def case_pipeline():
    """(7) A 3-stage pipeline of 4 micro-batches on distinct chiplets, no loads (weight-less
    GEMMs): sum + (n_mb - 1) x max, the max being the middle stage."""
    a = Model(
        "att",
        [
            Layer.gemm("g0", M=256, N=48, K=16, weights=False),
            Layer.gemm("g1", M=256, N=64, K=48, weights=False),
            Layer.gemm("g2", M=256, N=64, K=64, weights=False),
            Layer.gemm("g3", M=256, N=16, K=64, weights=False),
        ],
        batch=4,
    )
    p = Problem(Workload([a]), mcm("homo-ws", 2, 2, **unconstrained()), max_windows=1)
    s = Schedule(window=[[0, 0, 0, 0]], chiplet=[[0, 1, 1, 3]], micro_batch=[{0: 1}])
    # b' = 1, n_mb = 4; every GEMM: 256 cycles = 512 ns (N, K <= 64).
    # g0: input 256*16 + 16*48 = 4864 B (both operands), output 256*48 = 12288 B
    # g1: output 256*64 = 16384 B; g2: output 16384 B; g3: output 256*16 = 4096 B
    # s0 = g0 on c0: 512 + (4864/64 + 200) = 788 ns
    # s1 = g1, g2 on c1: 512 + 512 + (12288/100 + 35) = 1181.88 ns
    # s2 = g3 on c3: 512 + (16384/100 + 35) + (4096/64 + 200) = 974.84 ns
    t0 = (512 + (4864 / 64 + 200)) * NS
    t1 = (512 + 512 + (12288 / 100 + 35)) * NS
    t2 = (512 + (16384 / 100 + 35) + (4096 / 64 + 200)) * NS
    # 788 + 1181.88 + 974.84 + 3 x 1181.88 = 6490.36 ns (the recursion gives the same: stage 2's
    # runs end at 2944.72, 4126.6, 5308.48, 6490.36)
    latency = t0 + t1 + t2 + 3 * t1
    c0, o0 = layer_j(p, a.layers[0], chiplet=0, b=1, macs=48 * 16 * 256)
    c1, o1 = layer_j(p, a.layers[1], chiplet=1, b=1, macs=64 * 48 * 256)
    c2, o2 = layer_j(p, a.layers[2], chiplet=1, b=1, macs=64 * 64 * 256)
    c3, o3 = layer_j(p, a.layers[3], chiplet=3, b=1, macs=16 * 64 * 256)
    dram_bytes = 4 * (4864 + 4096)  # 35840 B, 560 ns
    return (
        p,
        s,
        dict(
            latency=latency,
            windows=[latency],
            compute=4 * (c0 + c1 + c2 + c3),
            onchip=4 * (o0 + o1 + o2 + o3),
            nop=nop_j((4 * 12288 + 4 * 16384) * 8),
            dram=dram_j(dram_bytes),
            throughput=4 / (4 * t1),  # busiest: c1, 4 x 1181.88 ns
            dram_bytes=dram_bytes,
            links={(0, 1): 4 * 12288, (1, 3): 4 * 16384},
            stages=[(t0, 0.0, 4), (t1, 0.0, 4), (t2, 0.0, 4)],
            busy={0: 4 * t0, 1: 4 * t1, 3: 4 * t2},
        ),
    )


def case_two_models_share_a_chiplet():
    """(8) Two models share chiplet 1 under fixed-order dispatch; the recursion worked by hand."""
    a = Model(
        "a",
        [Layer.conv("l0", K=64, C=16, Yo=10), Layer.conv("l1", K=16, C=64, Yo=10)],
        batch=2,
    )
    b = Model("b", [Layer.gemm("g", M=60, N=32, K=96)], batch=2)
    p = Problem(Workload([a, b]), mcm("homo-ws", 1, 2, **unconstrained()), max_windows=1)
    s = Schedule(window=[[0, 0], [0]], chiplet=[[0, 1], [1]], micro_batch=[{0: 1}, {0: 1}])
    # b' = 1, n_mb = 2 for both. Global stage order: a.s0 (c0), a.s1 (c1), b.s0 (c1).
    # a.l0: K=64, C=16, 10x10: 100 cycles = 200 ns; input 1600 B, output 6400 B, weights 1024 B
    # a.l1: K=16, C=64: 100 cycles = 200 ns; output 1600 B, weights 1024 B
    # b.g: M=60, N=32, K=96: C = 96 > 64 -> 2 C tiles: 2 x 60 = 120 cycles = 240 ns;
    #      input 60*96 = 5760 B, output 60*32 = 1920 B, weights 32*96 = 3072 B
    # a.s0: 200 + (1600/64 + 200) = 425 ns, load 1024/64 + 200 = 216 ns
    # a.s1: 200 + (6400/100 + 35) + (1600/64 + 200) = 524 ns, load 216 ns
    # b.s0: 240 + (5760/64 + 200) + (1920/64 + 200) = 760 ns, load 3072/64 + 200 = 248 ns
    ta0 = (200 + (1600 / 64 + 200)) * NS
    ta1 = (200 + (6400 / 100 + 35) + (1600 / 64 + 200)) * NS
    tb0 = (240 + (5760 / 64 + 200) + (1920 / 64 + 200)) * NS
    la, lb = (1024 / 64 + 200) * NS, (3072 / 64 + 200) * NS
    # free[c0] = 216; free[c1] = 216 + 248 = 464 (loads in global stage order)
    # j = 0: a.s0 ends 216 + 425 = 641; a.s1 max(641, 464) + 524 = 1165; b.s0 1165 + 760 = 1925
    # j = 1: a.s0 641 + 425 = 1066; a.s1 max(1066, 1925) + 524 = 2449; b.s0 2449 + 760 = 3209
    # makespan 3209 ns (not the busy-time bound 3032 ns, nor greedy list scheduling)
    f = {}
    f["a0", 0] = la + ta0
    f["a1", 0] = max(f["a0", 0], la + lb) + ta1
    f["b0", 0] = f["a1", 0] + tb0
    f["a0", 1] = f["a0", 0] + ta0
    f["a1", 1] = max(f["a0", 1], f["b0", 0]) + ta1
    f["b0", 1] = f["a1", 1] + tb0
    latency = f["b0", 1]
    assert abs(latency / NS - 3209) < 1e-6  # the hand figure above
    dram_bytes = 2 * 1600 + 2 * 1600 + 2048 + 2 * 5760 + 2 * 1920 + 3072  # 26880 B, 420 ns
    ca0, oa0 = layer_j(p, a.layers[0], chiplet=0, b=1, macs=64 * 16 * 100)
    ca1, oa1 = layer_j(p, a.layers[1], chiplet=1, b=1, macs=16 * 64 * 100)
    cb, ob = layer_j(p, b.layers[0], chiplet=1, b=1, macs=32 * 96 * 60)
    busy1 = la + lb + 2 * ta1 + 2 * tb0  # 3032 ns
    return (
        p,
        s,
        dict(
            latency=latency,
            windows=[latency],
            compute=2 * (ca0 + ca1 + cb),
            onchip=2 * (oa0 + oa1 + ob),
            nop=nop_j(2 * 6400 * 8),
            dram=dram_j(dram_bytes),
            throughput=4 / busy1,  # 2 + 2 inferences per 3032 ns
            dram_bytes=dram_bytes,
            links={(0, 1): 2 * 6400},
            stages=[(ta0, la, 2), (ta1, la, 2), (tb0, lb, 2)],
            busy={0: la + 2 * ta0, 1: busy1},
        ),
    )


def case_shared_link_binds():
    """(9) Two models' transfers share link 0->1; the window's link bound binds."""
    a = Model(
        "a",
        [
            Layer.conv("up", K=16, C=1, Yo=64),
            Layer.eltwise("pool", C=16, Yo=16, Xo=16, R=4, stride=4),
        ],
        batch=4,
    )
    b = Model(
        "b",
        [
            Layer.conv("up", K=20, C=1, Yo=64),
            Layer.eltwise("pool", C=20, Yo=16, Xo=16, R=4, stride=4),
        ],
        batch=4,
    )
    # chiplet 0 is output-stationary (MAESTRO YXP-OS, 64 x 64), the others ws.
    p = Problem(Workload([a, b]), mcm(grid=["OW", "WW"], **unconstrained()), max_windows=1)
    s = Schedule(window=[[0, 0], [0, 0]], chiplet=[[0, 1], [0, 3]], micro_batch=[{0: 1}, {0: 1}])
    # b' = 1, n_mb = 4. Global order: a.s0 (c0), a.s1 (c1), b.s0 (c0), b.s1 (c3).
    # "up" on os: one Y fold, one X tile: K x C = 16 (a) / 20 (b) cycles = 32 / 40 ns;
    #   input 64*64 = 4096 B, output 16*4096 = 65536 B (a) / 81920 B (b); weights 16 / 20 B
    # "pool" on ws: 16*16*16*16 = 65536 ops -> 16 cycles = 32 ns (a); 81920 -> 20 cycles = 40 ns
    #   (b); output 16*256 = 4096 B (a) / 5120 B (b)
    # a.s0: 32 + (4096/64 + 200) = 296 ns; load 16/64 + 200 = 200.25 ns
    # a.s1: 32 + (65536/100 + 35) + (4096/64 + 200) = 986.36 ns (1 hop, link 0->1)
    # b.s0: 40 + (4096/64 + 200) = 304 ns; load 20/64 + 200 = 200.3125 ns
    # b.s1: 40 + (81920/100 + 2 x 35) + (5120/64 + 200) = 1209.2 ns (2 hops: 0->1, 1->3)
    ta0 = (32 + (4096 / 64 + 200)) * NS
    ta1 = (32 + (65536 / 100 + 35) + (4096 / 64 + 200)) * NS
    tb0 = (40 + (4096 / 64 + 200)) * NS
    tb1 = (40 + (81920 / 100 + 2 * 35) + (5120 / 64 + 200)) * NS
    la, lb = (16 / 64 + 200) * NS, (20 / 64 + 200) * NS
    # recursion (free[c0] = 400.5625): a.s1 ends 1682.9225, 2669.2825, 3655.6425, 4642.0025;
    # b.s1 ends 2209.7625, 3418.9625, 4628.1625, 5837.3625 -> makespan 5837.3625 ns
    # link 0->1: 4 x (65536 + 81920) = 589824 B -> 5898.24 ns > makespan: it binds.
    # (DRAM: 4 x (4096 + 4096 + 4096 + 5120) + 16 + 20 = 69668 B -> 1088.5625 ns.)
    # b.s1 is the slowest stage: its runs follow back to back from b.s0's first run
    makespan = la + lb + ta0 + tb0 + 4 * tb1
    assert abs(makespan / NS - 5837.3625) < 1e-6
    latency = 4 * (65536 + 81920) / 100e9
    assert latency > makespan
    cua, oua = layer_j(p, a.layers[0], chiplet=0, b=1, macs=16 * 4096)
    cub, oub = layer_j(p, b.layers[0], chiplet=0, b=1, macs=20 * 4096)
    _, opa = layer_j(p, a.layers[1], chiplet=1, b=1, macs=0)
    _, opb = layer_j(p, b.layers[1], chiplet=3, b=1, macs=0)
    dram_bytes = 4 * (4096 + 4096 + 4096 + 5120) + 16 + 20
    return (
        p,
        s,
        dict(
            latency=latency,
            windows=[latency],
            compute=4 * (cua + cub),
            onchip=4 * (oua + oub + opa + opb),
            nop=nop_j(4 * (65536 * 1 + 81920 * 2) * 8),
            dram=dram_j(dram_bytes),
            throughput=8 / latency,  # the link is also the busiest resource per request set
            dram_bytes=dram_bytes,
            links={(0, 1): 4 * (65536 + 81920), (1, 3): 4 * 81920},
            stages=[(ta0, la, 4), (ta1, 0.0, 4), (tb0, lb, 4), (tb1, 0.0, 4)],
            busy={0: la + lb + 4 * (ta0 + tb0), 1: 4 * ta1, 3: 4 * tb1},
        ),
    )


def case_energy_every_term():
    """(10) Energy with every term: MAC, L1/L2, NoP (activation and DRAM route), DRAM; a stage
    on the middle chiplet of a 1x3 mesh pays a hop to the DRAM edge."""
    a = Model(
        "a",
        [Layer.conv("l0", K=40, C=24, Yo=6), Layer.conv("l1", K=12, C=40, Yo=6)],
        batch=2,
    )
    p = Problem(Workload([a]), mcm("homo-ws", 1, 3, **unconstrained()), max_windows=1)
    s = Schedule(window=[[0, 0]], chiplet=[[1, 2]], micro_batch=[{0: 1}])
    # b' = 1, n_mb = 2. Chiplet 1 is 1 hop from the DRAM edge (fixed cost 200 + 35 = 235 ns).
    # l0: K=40, C=24, 6x6: 36 cycles = 72 ns; input 24*36 = 864 B, output 40*36 = 1440 B,
    #     weights 960 B, MACs 40*24*36 = 34560
    # l1: K=12, C=40: 72 ns; output 12*36 = 432 B, weights 480 B, MACs 12*40*36 = 17280
    # s0 on c1: 72 + (864/64 + 235) = 320.5 ns; load 960/64 + 235 = 250 ns
    # s1 on c2: 72 + (1440/100 + 35) + (432/64 + 200) = 328.15 ns; load 480/64 + 200 = 207.5 ns
    t0 = (72 + (864 / 64 + 200 + 35)) * NS
    t1 = (72 + (1440 / 100 + 35) + (432 / 64 + 200)) * NS
    l0, l1 = (960 / 64 + 200 + 35) * NS, (480 / 64 + 200) * NS
    # j = 0: 250 + 320.5 = 570.5; max(570.5, 207.5) + 328.15 = 898.65
    # j = 1: 570.5 + 320.5 = 891; max(891, 898.65) + 328.15 = 1226.8 ns
    latency = l0 + t0 + t1 + t1
    c0, o0 = layer_j(p, a.layers[0], chiplet=1, b=1, macs=40 * 24 * 36)
    c1, o1 = layer_j(p, a.layers[1], chiplet=2, b=1, macs=12 * 40 * 36)
    # NoP bits x hops: the activation 2 x 1440 B x 1 hop, and chiplet 1's DRAM traffic (input
    # 2 x 864 B and weights 960 B) over 1 hop to the edge
    # DRAM: 2 x 864 + 960 + 2 x 432 + 480 = 4032 B
    dram_bytes = 2 * 864 + 960 + 2 * 432 + 480
    return (
        p,
        s,
        dict(
            latency=latency,
            windows=[latency],
            compute=2 * (c0 + c1),  # 2 x (34560 + 17280) x 0.23 pJ
            onchip=2 * (o0 + o1),
            nop=nop_j((2 * 1440 + 2 * 864 + 960) * 8),
            dram=dram_j(dram_bytes),
            throughput=2 / (l0 + 2 * t0),  # busiest: c1, 250 + 641 = 891 ns
            dram_bytes=dram_bytes,
            # link 1->2: the activation; chiplet 1's DRAM bytes use the link between chiplets 1
            # and 0 (the direction is not specified: checked as the sum of both directions)
            links={(1, 2): 2 * 1440, frozenset((0, 1)): 2 * 864 + 960},
            stages=[(t0, l0, 2), (t1, l1, 2)],
            busy={1: l0 + 2 * t0, 2: l1 + 2 * t1},
        ),
    )


def case_model_revisits_a_chiplet():
    """(11) One model's chain leaves chiplet 0 and comes back (c0 -> c1 -> c0), 2 micro-batches:
    chiplet 0 idles for run(s2, 0) rather than start run(s0, 1) out of order."""
    a = Model(
        "a",
        [
            Layer.conv("l0", K=32, C=8, Yo=8),
            Layer.conv("l1", K=16, C=32, Yo=8),
            Layer.conv("l2", K=8, C=16, Yo=8),
        ],
        batch=2,
    )
    p = Problem(Workload([a]), mcm("homo-ws", 1, 2, **unconstrained()), max_windows=1)
    s = Schedule(window=[[0, 0, 0]], chiplet=[[0, 1, 0]], micro_batch=[{0: 1}])
    # every layer 64 cycles = 128 ns. l0: input 512 B, output 2048 B, weights 256 B;
    # l1: output 1024 B, weights 512 B; l2: output 512 B, weights 128 B.
    # s0 (c0): 128 + (512/64 + 200) = 336 ns, load 256/64 + 200 = 204 ns
    # s1 (c1): 128 + (2048/100 + 35) = 183.48 ns, load 512/64 + 200 = 208 ns
    # s2 (c0): 128 + (1024/100 + 35) + (512/64 + 200) = 381.24 ns, load 128/64 + 200 = 202 ns
    t0 = (128 + (512 / 64 + 200)) * NS
    t1 = (128 + (2048 / 100 + 35)) * NS
    t2 = (128 + (1024 / 100 + 35) + (512 / 64 + 200)) * NS
    l0, l1, l2 = (256 / 64 + 200) * NS, (512 / 64 + 200) * NS, (128 / 64 + 200) * NS
    # c0 order: load s0, load s2, run(s0,0), run(s2,0), run(s0,1), run(s2,1); free[c0] = 406
    # j = 0: s0 406 + 336 = 742; s1 max(742, 208) + 183.48 = 925.48; s2 925.48 + 381.24 = 1306.72
    # j = 1: s0 1306.72 + 336 = 1642.72; s1 1826.2; s2 max(1826.2, 1642.72) + 381.24 = 2207.44
    latency = l0 + l2 + t0 + t1 + t2 + t0 + t1 + t2
    assert abs(latency / NS - 2207.44) < 1e-6
    c0, o0 = layer_j(p, a.layers[0], chiplet=0, b=1, macs=32 * 8 * 64)
    c1, o1 = layer_j(p, a.layers[1], chiplet=1, b=1, macs=16 * 32 * 64)
    c2, o2 = layer_j(p, a.layers[2], chiplet=0, b=1, macs=8 * 16 * 64)
    dram_bytes = 2 * 512 + 2 * 512 + 256 + 512 + 128  # 2944 B
    return (
        p,
        s,
        dict(
            latency=latency,
            windows=[latency],
            compute=2 * (c0 + c1 + c2),
            onchip=2 * (o0 + o1 + o2),
            nop=nop_j((2 * 2048 + 2 * 1024) * 8),
            dram=dram_j(dram_bytes),
            throughput=2 / (l0 + l2 + 2 * (t0 + t2)),  # c0 busy 1840.48 ns
            dram_bytes=dram_bytes,
            links={(0, 1): 2 * 2048, (1, 0): 2 * 1024},
            stages=[(t0, l0, 2), (t1, l1, 2), (t2, l2, 2)],
            busy={0: l0 + l2 + 2 * (t0 + t2), 1: l1 + 2 * t1},
        ),
    )


def case_table_ii_defaults():
    """(12) Default chiplets (10 MiB L2, L2->PE 64 elements/cycle, latency 1 cycle): a large pool
    is bound by the on-chip bandwidth and spills 2 MiB past the L2."""
    a = Model("pool", [Layer.eltwise("p", C=96, Yo=256, Xo=256)], batch=1)
    p = Problem(Workload([a]), mcm("homo-ws", 1, 2), max_windows=1)
    s = Schedule(window=[[0]], chiplet=[[0]], micro_batch=[{0: 1}])
    # input = output = 96*256*256 = 6291456 B (6 MiB).
    # cycles = max(ceil(6291456 / 4096) = 1536 compute, 1 + ceil((6291456 + 6291456) / 64) - 1
    #   = 196608 transfer) = 196608 cycles = 393216 ns
    # no weights; room = 10 MiB = 10485760 B; spill 12582912 - 10485760 = 2097152 B:
    #   2 x 2097152 / 64 = 65536 ns
    # t = 393216 + 65536 + (6291456/64 + 200) + (6291456/64 + 200) = 655760 ns
    t = (196608 * 2 + 2 * 2097152 / 64 + 2 * (6291456 / 64 + 200)) * NS
    dram_bytes = 2 * 6291456 + 2 * 2097152  # 16 MiB -> 262144 ns
    _, o = layer_j(p, a.layers[0], chiplet=0, b=1, macs=0)
    return (
        p,
        s,
        dict(
            latency=t,
            windows=[t],
            compute=0.0,
            onchip=o,
            nop=0.0,
            dram=dram_j(dram_bytes),
            throughput=1 / t,
            dram_bytes=dram_bytes,
            links={},
            stages=[(t, 0.0, 1)],
            busy={0: t},
        ),
    )


def case_dram_bound_binds():
    """(13) Two models stream through DRAM side by side: the window's DRAM bound binds."""
    a = Model("a", [Layer.eltwise("p", C=64, Yo=32, Xo=32)], batch=1)
    b = Model("b", [Layer.eltwise("p", C=48, Yo=32, Xo=32)], batch=1)
    p = Problem(Workload([a, b]), mcm("homo-ws", 1, 2, **unconstrained()), max_windows=1)
    s = Schedule(window=[[0], [0]], chiplet=[[0], [1]], micro_batch=[{0: 1}, {0: 1}])
    # a: 64*1024 = 65536 ops -> 16 cycles = 32 ns; input = output = 65536 B
    #    t = 32 + 2 x (65536/64 + 200) = 2480 ns
    # b: 49152 ops -> 12 cycles = 24 ns; input = output = 49152 B: t = 24 + 2 x (768 + 200) = 1960
    ta = (32 + 2 * (65536 / 64 + 200)) * NS
    tb = (24 + 2 * (49152 / 64 + 200)) * NS
    # DRAM: 2 x 65536 + 2 x 49152 = 229376 B -> 3584 ns > makespan 2480 ns: it binds
    latency = (2 * 65536 + 2 * 49152) / 64e9
    assert latency > ta
    _, oa = layer_j(p, a.layers[0], chiplet=0, b=1, macs=0)
    _, ob = layer_j(p, b.layers[0], chiplet=1, b=1, macs=0)
    return (
        p,
        s,
        dict(
            latency=latency,
            windows=[latency],
            compute=0.0,
            onchip=oa + ob,
            nop=0.0,
            dram=dram_j(229376),
            throughput=2 / latency,
            dram_bytes=229376,
            links={},
            stages=[(ta, 0.0, 1), (tb, 0.0, 1)],
            busy={0: ta, 1: tb},
        ),
    )


def case_spill_on_a_middle_chiplet():
    """(14) A spill on chiplet 2 of a 1x4 mesh, whose nearest DRAM edge is east (1 hop): spilled
    bytes pay DRAM bandwidth only in time (no latency, no hop: the ``2 spill / dram_bw`` term of
    docs/evaluation.md) but, as DRAM traffic, run along the row to the edge (link load, NoP
    energy), as the model input, output and weights do."""
    a = Model("a", [Layer.conv("l0", K=32, C=32, Yo=8)], batch=2)
    p = Problem(Workload([a]), mcm("homo-ws", 1, 4, **unconstrained(l2_bytes=3072)), max_windows=1)
    s = Schedule(window=[[0]], chiplet=[[2]], micro_batch=[{0: 1}])
    # b' = 1, n_mb = 2. Chiplet 2: 1 hop to the right edge (DRAM fixed cost 200 + 35 = 235 ns).
    # l0: K=32, C=32, 8x8: 64 cycles = 128 ns; input 2048 B, output 2048 B, weights 1024 B;
    #     MACs 32*32*64 = 65536
    # weights 1024 <= 3072 stay: load 1024/64 + 235 = 251 ns; room 3072 - 1024 = 2048;
    # spill (2048 + 2048) - 2048 = 2048 B: 2 x 2048 / 64 = 64 ns
    # t = 128 + 64 + (2048/64 + 235) input + (2048/64 + 235) output = 726 ns
    t = (128 + 2 * 2048 / 64 + 2 * (2048 / 64 + 200 + 35)) * NS
    once = (1024 / 64 + 200 + 35) * NS
    latency = once + 2 * t  # 251 + 1452 = 1703 ns
    # DRAM bytes: 2 x (2048 + 2048 + 2 x 2048) + 1024 = 17408 (272 ns); all of it 1 hop
    dram_bytes = 2 * (2048 + 2048 + 2 * 2048) + 1024
    c, o = layer_j(p, a.layers[0], chiplet=2, b=1, macs=32 * 32 * 64)
    return (
        p,
        s,
        dict(
            latency=latency,
            windows=[latency],
            compute=2 * c,
            onchip=2 * o,
            nop=nop_j(dram_bytes * 8 * 1),
            dram=dram_j(dram_bytes),
            throughput=2 / latency,
            dram_bytes=dram_bytes,
            links={frozenset((2, 3)): dram_bytes},
            stages=[(t, once, 2)],
            busy={2: latency},
        ),
    )


CASES = {
    f.__name__.removeprefix("case_"): f
    for f in (
        case_chain_one_chiplet,
        case_chain_two_chiplets,
        case_handoff_across_windows,
        case_skip_edge_across_chiplets,
        case_activation_spill,
        case_weights_reload,
        case_pipeline,
        case_two_models_share_a_chiplet,
        case_shared_link_binds,
        case_energy_every_term,
        case_model_revisits_a_chiplet,
        case_table_ii_defaults,
        case_dram_bound_binds,
        case_spill_on_a_middle_chiplet,
    )
}


@cache
def build(name):
    return CASES[name]()


def close(got, want, what):
    got, want = float(got), float(want)
    if want == 0.0:
        assert got == 0.0, f"{what}: expected 0, got {got!r}"
    else:
        assert abs(got - want) <= REL * abs(want), f"{what}: expected {want!r}, got {got!r}"


def expected_link_bytes(p, exp) -> np.ndarray:
    """Directed link bytes in ``mcm.links`` order; ``None`` where a pair is checked undirected."""
    out = np.zeros(len(p.mcm.links))
    for i, lk in enumerate(p.mcm.links):
        if frozenset(lk) in exp["links"]:
            out[i] = np.nan
        else:
            out[i] = exp["links"].get(lk, 0.0)
    return out


def check_links(p, exp, got: dict):
    """``got``: {directed link: bytes}. Undirected expectations are summed over both directions."""
    for key, want in exp["links"].items():
        if isinstance(key, frozenset):
            a, b = tuple(key)
            close(got[(a, b)] + got[(b, a)], want, f"link bytes {a}<->{b}")
    want = expected_link_bytes(p, exp)
    for i, lk in enumerate(p.mcm.links):
        if not np.isnan(want[i]):
            close(got[lk], want[i], f"link bytes {lk}")


def check_common(
    exp, *, latency, energy, compute, onchip, nop, dram, edp, throughput, windows, dram_bytes
):
    close(latency, exp["latency"], "latency")
    total = exp["compute"] + exp["onchip"] + exp["nop"] + exp["dram"]
    close(energy, total, "energy")
    close(compute, exp["compute"], "compute energy")
    close(onchip, exp["onchip"], "on-chip energy")
    close(nop, exp["nop"], "NoP energy")
    close(dram, exp["dram"], "DRAM energy")
    close(edp, total * exp["latency"], "EDP")
    close(throughput, exp["throughput"], "throughput")
    assert len(windows) == len(exp["windows"])
    for w, (g, e) in enumerate(zip(windows, exp["windows"])):
        close(g, e, f"window {w} latency")
    close(dram_bytes, exp["dram_bytes"], "DRAM bytes")


@pytest.mark.parametrize("name", list(CASES))
def test_reference(name):
    p, s, exp = build(name)
    r = p.evaluate(s)
    e = r.energy_breakdown_j
    check_common(
        exp,
        latency=r.latency_s,
        energy=r.energy_j,
        compute=e["compute"],
        onchip=e["onchip"],
        nop=e["nop"],
        dram=e["dram"],
        edp=r.edp,
        throughput=r.throughput,
        windows=r.window_latency_s,
        dram_bytes=r.dram_bytes,
    )
    check_links(p, exp, r.link_bytes)
    assert len(r.stages) == len(exp["stages"])
    for k, (st, (t, once, nmb)) in enumerate(zip(r.stages, exp["stages"])):
        close(st.time_per_micro_batch_s, t, f"stage {k} time per micro-batch")
        close(st.weight_load_once_s, once, f"stage {k} one-time load")
        assert st.n_micro_batches == nmb, f"stage {k} micro-batches"
    for c in range(p.mcm.n_chiplets):
        close(r.chiplet_busy_s[c], exp["busy"].get(c, 0.0), f"chiplet {c} busy")


@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize("name", list(CASES))
def test_batch(name, backend):
    if backend == "numba":
        pytest.importorskip("numba")
    p, s, exp = build(name)
    g = p.encode(s)
    br = p.evaluate_batch(np.stack([g, g]), backend=backend)  # two rows: no row-0-only luck
    for i in range(2):
        check_common(
            exp,
            latency=br.latency_s[i],
            energy=br.energy_j[i],
            compute=br.energy_compute_j[i],
            onchip=br.energy_onchip_j[i],
            nop=br.energy_nop_j[i],
            dram=br.energy_dram_j[i],
            edp=br.edp[i],
            throughput=br.throughput[i],
            windows=br.window_latency_s[i],
            dram_bytes=br.dram_bytes[i],
        )
        check_links(p, exp, dict(zip(p.mcm.links, br.link_bytes[i])))
        for c in range(p.mcm.n_chiplets):
            close(br.chiplet_busy_s[i][c], exp["busy"].get(c, 0.0), f"chiplet {c} busy")


@pytest.mark.parametrize("name", list(CASES))
def test_simulator(name):
    p, s, exp = build(name)
    tl = simulate(p, s)
    close(tl.makespan_s, exp["latency"], "simulated makespan")
    close(tl.energy_j, exp["compute"] + exp["onchip"] + exp["nop"] + exp["dram"], "energy")
    close(tl.throughput, exp["throughput"], "throughput")
    close(tl.dram_bytes, exp["dram_bytes"], "DRAM bytes")
    # windows are barriers: each window ends at the sum of the window latencies so far
    ends = np.cumsum(exp["windows"])
    for w, (got, want) in enumerate(zip(tl.window_end_s, ends)):
        close(got, want, f"window {w} end")


def test_cases_cover_the_issue():
    assert len(CASES) >= 10
