import pytest

from costmodel import Layer, Model, Workload, build_model, scenario
from costmodel.zoo import SCENARIOS


def test_resnet50_macs():
    assert build_model("resnet50").macs(batch=1) == pytest.approx(4.1e9, rel=0.01)


def test_gpt2_large_macs_at_128_tokens():
    assert build_model("gpt2-large", seq_len=128).macs() == pytest.approx(92e9, rel=0.01)


def test_transformer_macs_scale_with_batch_and_seq_len():
    b = build_model("bert-base", seq_len=128)
    # 12 blocks x (4 d^2 + 8 d^2) x s + attention 2 s^2 d per block
    d, s = 768, 128
    assert b.macs() == 12 * (12 * d * d * s + 2 * s * s * d)
    assert b.macs(batch=3) == 3 * b.macs()


def test_unet_has_23_convs_and_skips():
    u = build_model("unet")
    assert sum(layer.kind == "conv" for layer in u.layers) == 23
    assert sum(1 for layer in u.layers if layer.skips) == 4


def test_scenarios_match_design_table():
    for name, spec in SCENARIOS.items():
        w = scenario(name)
        assert [(m.name.split("#")[0], m.batch) for m in w.models] == spec
    assert len(scenario("sc5")) == 5


def test_workload_names_duplicates_apart():
    r = build_model("resnet50")
    w = Workload([r, r, r])
    assert [m.name for m in w.models] == ["resnet50", "resnet50#2", "resnet50#3"]


def test_custom_workload_from_issue_api():
    conv = Layer.conv("conv1", K=64, C=3, R=7, S=7, Yo=112, Xo=112, stride=2)
    fc = Layer.gemm("fc1", M=128, N=3072, K=768)
    w = Workload([Model("tiny", [conv, fc], batch=4), build_model("resnet50", batch=2)])
    assert w.n_layers == 2 + 56
    assert conv.Yi == 229 and fc.gemm_dims() == (128, 3072, 768)


@pytest.mark.parametrize(
    "call, field",
    [
        (lambda: build_model("vgg"), "model"),
        (lambda: Layer.conv("x", K=0, C=3), "K"),
        (lambda: Layer.gemm("x", M=4, N=4, K=-1), "C"),
        (lambda: Model("m", [Layer.conv("x", K=1, C=1)], batch=0), "batch"),
        (lambda: Model("m", [Layer.conv("x", K=1, C=1, skips=(0,))]), "skips"),
        (lambda: Layer("x", kind="lstm"), "layer kind"),
        (lambda: scenario("sc9"), "scenario"),
        (lambda: build_model("resnet50", seq_len=4), "parameters"),
    ],
)
def test_bad_workloads_are_named(call, field):
    with pytest.raises(ValueError, match=field):
        call()
