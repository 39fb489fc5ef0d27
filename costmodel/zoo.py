"""Built-in models (from their architecture definitions; no weights, no downloads) and scenarios."""

from __future__ import annotations

from collections.abc import Callable

from .errors import check_choice, check_positive_int
from .targets import Target
from .workload import Layer, Model, Workload
from .zoo_arvr import ARVR_MODELS, ARVR_SCENARIOS, ARVR_TARGET_FPS

# Element-wise operation counts per element for fused epilogues (our estimates, documented):
LN_OPS = 5  # mean, variance, normalize, scale, shift
SOFTMAX_OPS = 5  # max, subtract, exp, sum, divide
GELU_OPS = 8  # tanh approximation
ADD_OPS = 1


def resnet50() -> list[Layer]:
    """ResNet-50 v1.5 at 224x224x3: conv1, max-pool, 16 bottlenecks, avg-pool, fc (56 layers).

    The residual add is fused into the block's last layer (``vec_ops``) which also reads the block
    input (``skips``); a projection block runs its 1x1 down-sample conv after the three main convs.
    """
    layers = [Layer.conv("conv1", K=64, C=3, R=7, Yo=112, stride=2)]
    layers.append(Layer.eltwise("maxpool", C=64, Yo=56, Xo=56, R=3, stride=2, skips=()))
    c_in, res = 64, 56
    for stage, (width, blocks) in enumerate([(64, 3), (128, 4), (256, 6), (512, 3)], start=1):
        for b in range(blocks):
            stride = 2 if (b == 0 and stage > 1) else 1
            res_out = res // stride
            block_in = len(layers) - 1
            out = 4 * width
            p = f"layer{stage}.{b}"
            project = b == 0
            add = ADD_OPS * out * res_out * res_out
            layers += [
                Layer.conv(f"{p}.conv1", K=width, C=c_in, R=1, Yo=res),
                Layer.conv(f"{p}.conv2", K=width, C=width, R=3, Yo=res_out, stride=stride),
                Layer.conv(
                    f"{p}.conv3",
                    K=out,
                    C=width,
                    R=1,
                    Yo=res_out,
                    vec_ops=0 if project else add,
                    skips=() if project else (block_in,),
                ),
            ]
            if project:
                layers.append(
                    Layer.conv(
                        f"{p}.downsample",
                        K=out,
                        C=c_in,
                        R=1,
                        Yo=res_out,
                        stride=stride,
                        vec_ops=add,
                        skips=(block_in,),
                    )
                )
            c_in, res = out, res_out
    layers.append(Layer.eltwise("avgpool", C=2048, Yo=1, Xo=1, R=7, stride=7))
    layers.append(Layer.gemm("fc", M=1, N=1000, K=2048))
    return layers


_TRANSFORMERS = {
    # name: (hidden size d, blocks, heads)
    "gpt2": (768, 12, 12),
    "gpt2-small": (768, 12, 12),
    "gpt2-medium": (1024, 24, 16),
    "gpt2-large": (1280, 36, 20),
    "gpt2-xl": (1600, 48, 25),
    "bert-base": (768, 12, 12),
    "bert-large": (1024, 24, 16),
}


def transformer(d: int, blocks: int, heads: int, seq_len: int = 128) -> list[Layer]:
    """Encoder/decoder blocks of six GEMMs each: QKV, QK^T, AV, projection, FC1, FC2.

    Layer norms, softmax, GELU and residual adds are fused into the GEMM beside them as
    ``vec_ops``; the LM/classifier head is left out (GPT-2 Large at 128 tokens: ~92 GMAC).
    """
    check_positive_int("seq_len", seq_len)
    dh = d // heads
    s = seq_len
    layers: list[Layer] = []
    for b in range(blocks):
        block_in = len(layers) - 1
        p = f"block{b}"
        i_qkv = len(layers)
        layers += [
            Layer.gemm(f"{p}.qkv", M=s, N=3 * d, K=d, vec_ops=LN_OPS * s * d, skips=()),
            Layer.gemm(
                f"{p}.qk",
                M=s,
                N=s,
                K=dh,
                heads=heads,
                weights=False,
                vec_ops=SOFTMAX_OPS * heads * s * s,
            ),
            Layer.gemm(f"{p}.av", M=s, N=dh, K=s, heads=heads, weights=False, skips=(i_qkv,)),
            Layer.gemm(
                f"{p}.proj",
                M=s,
                N=d,
                K=d,
                vec_ops=ADD_OPS * s * d,
                skips=(block_in,) if block_in >= 0 else (),
            ),
        ]
        i_proj = len(layers) - 1
        layers += [
            Layer.gemm(f"{p}.fc1", M=s, N=4 * d, K=d, vec_ops=(LN_OPS + GELU_OPS * 4) * s * d),
            Layer.gemm(f"{p}.fc2", M=s, N=d, K=4 * d, vec_ops=ADD_OPS * s * d, skips=(i_proj,)),
        ]
    return layers


def unet(size: int = 512, in_ch: int = 1, classes: int = 2) -> list[Layer]:
    """U-Net (Ronneberger et al.) with 'same' padding at ``size x size x in_ch``: 23 convs, 4 pools.

    A 2x2 stride-2 transposed conv is modelled exactly as a 1x1 conv with 4x the output channels
    at the input resolution (the same MACs, weights, inputs and outputs). Decoder convs read the
    encoder features they concatenate (``skips``).
    """
    check_positive_int("size", size)
    if size % 16:
        raise ValueError(f"U-Net size must be a multiple of 16, got {size}")
    layers: list[Layer] = []
    widths = [64, 128, 256, 512]
    c, res, enc_out = in_ch, size, []
    for i, w in enumerate(widths, start=1):
        layers.append(Layer.conv(f"enc{i}.conv1", K=w, C=c, R=3, Yo=res))
        layers.append(Layer.conv(f"enc{i}.conv2", K=w, C=w, R=3, Yo=res))
        enc_out.append(len(layers) - 1)
        res //= 2
        layers.append(Layer.eltwise(f"enc{i}.pool", C=w, Yo=res, Xo=res, R=2, stride=2))
        c = w
    layers.append(Layer.conv("bottleneck.conv1", K=1024, C=512, R=3, Yo=res))
    layers.append(Layer.conv("bottleneck.conv2", K=1024, C=1024, R=3, Yo=res))
    c = 1024
    for i, w in zip(range(4, 0, -1), reversed(widths)):
        layers.append(Layer.conv(f"dec{i}.upconv", K=4 * w, C=c, R=1, Yo=res))
        res *= 2
        layers.append(
            Layer.conv(f"dec{i}.conv1", K=w, C=2 * w, R=3, Yo=res, skips=(enc_out[i - 1],))
        )
        layers.append(Layer.conv(f"dec{i}.conv2", K=w, C=w, R=3, Yo=res))
        c = w
    layers.append(Layer.conv("final", K=classes, C=64, R=1, Yo=res))
    return layers


def _transformer_builder(key: str) -> Callable[..., list[Layer]]:
    d, blocks, heads = _TRANSFORMERS[key]

    def build(seq_len: int = 128) -> list[Layer]:
        return transformer(d, blocks, heads, seq_len)

    return build


MODELS: dict[str, Callable[..., list[Layer]]] = {
    "resnet50": resnet50,
    "unet": unet,
    **{key: _transformer_builder(key) for key in _TRANSFORMERS},
    # SCAR's AR/VR models (sc6-sc10), see zoo_arvr.py: googlenet, d2go, planercnn, midas-small,
    # emformer, hrvit-b1, hand-sp, eyecod, sp2dense
    **ARVR_MODELS,
}


def build_model(name: str, batch: int = 1, **params) -> Model:
    """A built-in model by name (``resnet50``, ``unet``, ``gpt2[-medium|-large|-xl]``,
    ``bert-base``, ``bert-large``, and the AR/VR models of ``zoo_arvr``); transformers take
    ``seq_len`` (default 128), U-Net ``size``, the AR/VR models their builders' input sizes."""
    check_choice("model", name, tuple(MODELS))
    try:
        layers = MODELS[name](**params)
    except TypeError as exc:
        raise ValueError(
            f"model {name!r} does not take parameters {sorted(params)}: {exc}"
        ) from None
    return Model(name, layers, batch)


#: SCAR Table III (datacenter, sequence length 128), plus the seed paper's pair. ``seed`` is our
#: choice of sizes (the seed paper gives only the abstract): GPT-2 small, 128 tokens, batch 1, and
#: ResNet-50 batch 1.
SCENARIOS: dict[str, list[tuple[str, int]]] = {
    "sc1": [("gpt2-large", 1), ("bert-large", 3)],
    "sc2": [("gpt2-large", 1), ("bert-large", 3), ("resnet50", 1)],
    "sc3": [("gpt2-large", 1), ("bert-large", 3), ("resnet50", 32)],
    "sc4": [("gpt2-large", 8), ("bert-large", 24), ("unet", 1), ("resnet50", 32)],
    "sc5": [
        ("gpt2-large", 8),
        ("bert-large", 24),
        ("unet", 1),
        ("resnet50", 32),
        ("bert-base", 24),
    ],
    "seed": [("gpt2", 1), ("resnet50", 1)],
}


def _replicated(base: str, copies: int) -> list[tuple[str, int]]:
    """``copies`` of a scenario's models, copy ``k`` with every batch offset by ``k``."""
    return [(m, b + k) for k in range(copies) for m, b in SCENARIOS[base]]


#: Scaling scenarios: sc5 replicated (copy k's batches offset by k), up to 20 models.
SCENARIOS.update({"sc5x2": _replicated("sc5", 2), "sc5x4": _replicated("sc5", 4)})

#: SCAR Table III, AR/VR scenarios sc6-sc10 (meant for 256-PE chiplets, constants.PES_ARVR).
SCENARIOS.update(ARVR_SCENARIOS)


def scenario(name: str, seq_len: int = 128) -> Workload:
    """The workload of a named scenario (``sc1``..``sc10``, ``seed``, ``sc5x2``, ``sc5x4``)."""
    check_choice("scenario", name, tuple(SCENARIOS))
    models = []
    for model, batch in SCENARIOS[name]:
        params = {"seq_len": seq_len} if model in _TRANSFORMERS else {}
        models.append(build_model(model, batch=batch, **params))
    return Workload(models, name=name, targets=scenario_targets(name, models))


def scenario_targets(name: str, models: list) -> dict[str, Target] | None:
    """Default latency targets of a scenario: sc6-sc10 from XRBench's usage scenarios
    (:data:`costmodel.zoo_arvr.ARVR_TARGET_FPS`, converted to a deadline per batch); none for
    the others."""
    fps = ARVR_TARGET_FPS.get(name)
    if fps is None:
        return None
    return {m.name: Target(m.batch / fps[m.name]) for m in models if m.name in fps}
