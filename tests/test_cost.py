import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from costmodel import ChipletClass, CostTable, Layer, build_model, layer_cost, layer_costs, scenario
from costmodel.hardware import DATAFLOWS

CLASSES = [
    ChipletClass.with_pes(df, pes, noc_bw=bw)
    for df in DATAFLOWS
    for pes in (256, 4096)
    for bw in (None, 64)
]

conv_layers = st.builds(
    lambda K, C, R, Yo, Xo, s: Layer.conv("x", K=K, C=C, R=R, S=R, Yo=Yo, Xo=Xo, stride=s),
    st.integers(1, 300),
    st.integers(1, 300),
    st.sampled_from([1, 3, 5, 7]),
    st.integers(1, 120),
    st.integers(1, 120),
    st.integers(1, 2),
)
gemm_layers = st.builds(
    lambda M, N, K, w, h: Layer.gemm("g", M=M, N=N, K=K, weights=w, heads=h),
    st.integers(1, 512),
    st.integers(1, 600),
    st.integers(1, 600),
    st.booleans(),
    st.integers(1, 4),
)


@settings(max_examples=60, deadline=None)
@given(layer=st.one_of(conv_layers, gemm_layers), batch=st.integers(1, 4))
def test_cost_properties_hold_for_random_shapes(layer, batch):
    macs = {layer_cost(layer, cc, batch).macs for cc in CLASSES}
    assert macs == {layer.macs(batch)}  # every dataflow agrees on the work
    for cc in CLASSES:
        c = layer_cost(layer, cc, batch)
        assert np.isfinite(c.cycles) and c.cycles >= c.macs / cc.pes
        assert c.energy_pj >= c.macs * cc.mac_pj
        assert min(c.l1_reads, c.l1_writes, c.l2_reads, c.l2_writes) >= 0
        assert 0 <= c.utilization <= 1 + 1e-12
        assert c.latency_s == pytest.approx(c.cycles / cc.clock_hz)


@settings(max_examples=25, deadline=None)
@given(layer=conv_layers, bw=st.sampled_from([16, 64, 256]))
def test_finite_bandwidth_never_speeds_up(layer, bw):
    for df in ("ws", "os"):
        free = layer_cost(layer, ChipletClass(df, noc_bw=None, noc_latency=0))
        tight = layer_cost(layer, ChipletClass(df, noc_bw=bw, noc_latency=1))
        assert tight.cycles >= free.cycles
        assert tight.energy_pj == pytest.approx(free.energy_pj)  # bandwidth changes no count


def test_fold_formulas_unconstrained():
    ws = ChipletClass("ws", noc_bw=None, noc_latency=0)
    os_ = ChipletClass("os", noc_bw=None, noc_latency=0)
    conv1 = Layer.conv("conv1", K=64, C=3, R=7, Yo=112, stride=2)
    assert layer_cost(conv1, ws).cycles == 614_656
    assert layer_cost(conv1, os_).cycles == 37_632
    assert layer_cost(Layer.gemm("fc", M=1, N=1000, K=2048), ws).cycles == 512
    assert layer_cost(Layer.conv("l4", K=512, C=512, R=3, Yo=7), os_).cycles == 2_359_296
    # a GEMM on os spreads M over the array: ceil(M / PEs) * N * K
    assert layer_cost(Layer.gemm("g", M=128, N=768, K=64), os_).cycles == 768 * 64


def test_systolic_follows_scalesim_fold_formula():
    cc = ChipletClass(dataflow="systolic-ws", pe_rows=32, pe_cols=32, noc_bw=None)
    layer = Layer.conv("x", K=100, C=20, R=3, Yo=10)
    folds = -(-(9 * 20) // 32) * -(-100 // 32)
    assert layer_cost(layer, cc).cycles == folds * (2 * 32 + 32 + 100 - 2) - 1
    cc = ChipletClass(dataflow="systolic-os", pe_rows=32, pe_cols=32, noc_bw=None)
    folds = -(-100 // 32) * -(-100 // 32)
    assert layer_cost(layer, cc).cycles == folds * (2 * 32 + 180 - 2) - 1


def test_os_wins_conv1_ws_wins_the_rest_of_resnet():
    r = build_model("resnet50")
    ws = layer_costs(r.layers, ChipletClass("ws"))
    os_ = layer_costs(r.layers, ChipletClass("os"))
    conv = np.array([layer.kind != "eltwise" for layer in r.layers])
    faster_os = [
        layer.name for layer, a, b, c in zip(r.layers, ws.cycles, os_.cycles, conv) if c and b < a
    ]
    assert faster_os == ["conv1"]


def test_cost_table_is_cached_and_indexed_layer_by_class():
    w = scenario("sc1")
    classes = [ChipletClass("ws"), ChipletClass("os")]
    t = CostTable(w, classes)
    a = t.model(0, 1)
    assert a.cycles.shape == (len(w.models[0]), 2)
    assert t.model(0, 1) is a
    direct = layer_costs(w.models[0].layers, classes[1], 1)
    np.testing.assert_array_equal(a.cycles[:, 1], direct.cycles)
    assert t.model(1, 3).macs[:, 0].sum() == w.models[1].macs(3)


def test_eltwise_and_fused_ops_cost_something_but_no_macs():
    pool = Layer.eltwise("pool", C=64, Yo=56, R=3, stride=2)
    c = layer_cost(pool, ChipletClass("ws"))
    assert c.macs == 0 and c.cycles > 0 and c.energy_pj > 0 and c.weight_bytes == 0
    plain = layer_cost(Layer.gemm("g", M=128, N=512, K=512), ChipletClass("ws"))
    fused = layer_cost(Layer.gemm("g", M=128, N=512, K=512, vec_ops=10**6), ChipletClass("ws"))
    assert fused.cycles > plain.cycles and fused.energy_pj > plain.energy_pj


def test_attention_batch_multiplies_heads_not_weights():
    qk = Layer.gemm("qk", M=128, N=128, K=64, heads=12, weights=False)
    one = layer_cost(qk, ChipletClass("ws"), 1)
    four = layer_cost(qk, ChipletClass("ws"), 4)
    assert four.macs == 4 * one.macs and one.weight_bytes == 0
    assert four.input_bytes == 4 * one.input_bytes


def test_latency_is_charged_with_unconstrained_bandwidth():
    # MAESTRO's delay model with unconstrained bandwidth: every transfer costs the latency L. A GEMM
    # on `os` (M over every PE) takes N*K steps, each sending its outputs: max(L, 1) cycles each,
    # the first L + 1 (ingress, then compute).
    g = Layer.gemm("g", M=128, N=768, K=64)
    for lat in (0, 1, 5):
        cc = ChipletClass("os", noc_bw=None, noc_latency=lat)
        assert layer_cost(g, cc).cycles == (768 * 64 - 1) * max(lat, 1) + lat + 1
    conv = Layer.conv("l1", K=64, C=64, R=1, Yo=56)  # ResNet-50 layer1 1x1
    free = layer_cost(conv, ChipletClass("ws", noc_bw=None, noc_latency=0)).cycles
    assert layer_cost(conv, ChipletClass("ws", noc_bw=None, noc_latency=1)).cycles > 2 * free - 2
    assert layer_cost(conv, ChipletClass("ws", noc_bw=None, noc_latency=5)).cycles > 5 * free
