import numpy as np
import pytest

from costmodel import ChipletClass, Layer, Model, Workload, build_model, layer_cost, scenario
from costmodel.config import load_model
from costmodel.hardware import DATAFLOWS
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
        (lambda: scenario("sc99"), "scenario"),
        (lambda: build_model("resnet50", seq_len=4), "parameters"),
    ],
)
def test_bad_workloads_are_named(call, field):
    with pytest.raises(ValueError, match=field):
        call()


# Published activation shapes (channels, height, width), written from the architecture definitions,
# not from this code: ResNet-50 from He et al. 2016 (Table 1; v1.5 strides the 3x3 conv of the
# first block of a stage), U-Net from Ronneberger et al. 2015 (channel widths 64..1024, 2x2
# pools), here with 'same' padding on a 512x512x1 input so every level keeps its size.
RESNET50_SHAPES = {
    "conv1": (64, 112, 112),
    "maxpool": (64, 56, 56),
    "layer1.2.conv3": (256, 56, 56),  # conv2_x output
    "layer2.0.conv1": (128, 56, 56),  # v1.5: the 1x1 reduce runs at the input resolution
    "layer2.0.conv2": (128, 28, 28),
    "layer2.0.downsample": (512, 28, 28),
    "layer2.3.conv3": (512, 28, 28),  # conv3_x output
    "layer3.5.conv3": (1024, 14, 14),  # conv4_x output
    "layer4.2.conv3": (2048, 7, 7),  # conv5_x output
    "avgpool": (2048, 1, 1),
}
UNET_SHAPES = {
    "enc1.conv2": (64, 512, 512),
    "enc1.pool": (64, 256, 256),
    "enc2.conv2": (128, 256, 256),
    "enc2.pool": (128, 128, 128),
    "enc3.conv2": (256, 128, 128),
    "enc3.pool": (256, 64, 64),
    "enc4.conv2": (512, 64, 64),
    "enc4.pool": (512, 32, 32),
    "bottleneck.conv2": (1024, 32, 32),
    "dec4.conv2": (512, 64, 64),
    "dec3.conv2": (256, 128, 128),
    "dec2.conv2": (128, 256, 256),
    "dec1.conv2": (64, 512, 512),
    "final": (2, 512, 512),
}
# up-convolutions (2x2, stride 2) double the size and halve the channels
UNET_UPCONV = {"dec4": (512, 64), "dec3": (256, 128), "dec2": (128, 256), "dec1": (64, 512)}
# GPT-2 (Radford et al. 2019) and BERT (Devlin et al. 2019): (hidden size, blocks, heads)
TRANSFORMER_SIZES = {
    "gpt2": (768, 12, 12),
    "gpt2-medium": (1024, 24, 16),
    "gpt2-large": (1280, 36, 20),
    "gpt2-xl": (1600, 48, 25),
    "bert-base": (768, 12, 12),
    "bert-large": (1024, 24, 16),
}
TRANSFORMER_KEYS = ("qkv", "qk", "av", "proj", "fc1", "fc2")


def _by_name(model):
    return {layer.name: layer for layer in model.layers}


@pytest.mark.parametrize(
    "model, shapes", [("resnet50", RESNET50_SHAPES), ("unet", UNET_SHAPES)], ids=str
)
def test_conv_models_have_published_activation_shapes(model, shapes):
    layers = _by_name(build_model(model))
    for name, (c, h, w) in shapes.items():
        layer = layers[name]
        assert (layer.K, layer.Yo, layer.Xo) == (c, h, w), name
        assert layer.output_elems() == c * h * w, name
        assert layer.output_elems(batch=3) == 3 * c * h * w, name
    if model == "resnet50":
        assert layers["fc"].output_elems() == 1000


def test_unet_upconvs_have_published_output_sizes():
    layers = _by_name(build_model("unet"))
    for level, (c, hw) in UNET_UPCONV.items():
        assert layers[f"{level}.upconv"].output_elems() == c * hw * hw, level


@pytest.mark.parametrize("name", sorted(TRANSFORMER_SIZES))
def test_transformer_blocks_have_published_activation_shapes(name):
    d, blocks, heads = TRANSFORMER_SIZES[name]
    s = 128
    model = build_model(name, seq_len=s)
    assert len(model) == 6 * blocks
    layers = _by_name(model)
    for b in (0, blocks - 1):
        out = {key: layers[f"block{b}.{key}"].output_elems() for key in TRANSFORMER_KEYS}
        assert out == {
            "qkv": s * 3 * d,
            "qk": heads * s * s,
            "av": s * d,
            "proj": s * d,
            "fc1": s * 4 * d,
            "fc2": s * d,  # the block output
        }
    assert model.layers[-1].output_elems(batch=2) == 2 * s * d


def test_pool_and_eltwise_outputs_default_to_square():
    assert Layer.eltwise("p", C=64, Yo=56, R=3, stride=2).Xo == 56
    assert Layer("p", kind="eltwise", K=64, C=64, Yo=56).Xo == 56
    assert Layer("c", kind="conv", K=8, C=8, Yo=7).Xo == 7
    assert Layer("g", kind="gemm", K=8, C=8, Yo=128).Xo == 1  # a GEMM is M x 1
    assert Layer.eltwise("p", C=64, Yo=56, Xo=28).Xo == 28
    tiny = load_model(
        {"name": "t", "layers": [{"name": "pool", "kind": "eltwise", "C": 64, "Yo": 56, "R": 2}]}
    )
    assert tiny.layers[0].output_elems() == 64 * 56 * 56


def test_huge_layers_count_without_overflow():
    big = Layer.conv("big", K=10**8, C=10**8, Yo=10**5)
    assert big.macs() == 10**26  # plain Python ints
    for df in DATAFLOWS:
        c = layer_cost(big, ChipletClass.with_pes(df, 4096))
        assert c.macs == pytest.approx(1e26, rel=1e-15)
        assert c.cycles >= 1e26 / 4096 and c.energy_pj > 0 and np.isfinite(c.energy_pj)
        assert min(c.l1_reads, c.l2_reads, c.l2_writes, c.input_bytes, c.output_bytes) > 0


@pytest.mark.parametrize("field", ["K", "C", "Yo", "Xo", "R", "stride"])
def test_sizes_beyond_the_limit_name_the_field(field):
    kw = {"K": 1, "C": 1, "Yo": 1, field: 2**31}
    with pytest.raises(ValueError, match=rf"{field} must be <= 2147483647, got 2147483648"):
        Layer.conv("x", **kw)
    with pytest.raises(ValueError, match="batch must be <= 2147483647"):
        Model("m", [Layer.conv("x", K=1, C=1)], batch=2**31)
