"""The AR/VR models of SCAR's scenarios sc6-sc10, as layer tables.

SCAR (arXiv 2405.00790, Table III) takes its AR/VR models from XRBench (Kwon et al., MLSys 2023,
arXiv 2211.08675), whose MAESTRO layer files (github.com/XRBench/XRBench-MLSys2023,
``XRbench_evaluation/usage_scenarios/*.m``) name the variant and the input size of each. We rebuild
each network from its architecture paper and official repository (no code copied, no weights),
at XRBench's input size where the official network accepts it. Every builder says which variant,
which input size and why; ``tests/test_arvr_models.py`` holds each against the MACs and parameters
its source states or, where none does, that its official code gives.

Conventions (as in ``zoo.py``): ``Layer.conv`` takes OUTPUT sizes; a depthwise conv is a grouped
conv with ``groups`` = channels; pools, upsampling, squeeze-excite scaling and Laplacian products
are ``eltwise`` layers; residual adds are fused into the layer that completes the block
(``vec_ops``) and that layer ``skips`` from the block input; a layer that reads a concatenation
or another branch ``skips`` from the producers. Several regions of interest (RoIs) of a detector
head run as one layer, the RoIs side by side along X (same MACs and weights; the halo between
neighbours is ignored). Norms and activations are folded into the layer before them, as in
``zoo.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from .errors import check_positive_int
from .workload import Layer

# Element-wise operations per element of fused epilogues: the same estimates as zoo.py.
LN_OPS = 5
SOFTMAX_OPS = 5
GELU_OPS = 8
ADD_OPS = 1


def _down(n: int, stride: int) -> int:
    """Output size of a 'same'-padded conv or pool: ceil(n / stride), as PyTorch with k // 2 padding."""
    return -(-n // stride)


def _divisible(n: float, divisor: int = 8) -> int:
    """Channels rounded to a multiple of ``divisor``, never below 95% of ``n`` (mobile_cv's
    ``get_divisible_by``, which FBNet and D2Go use; its rounding is half away from zero)."""
    ret = int(n)
    if n % divisor:
        q = n / divisor
        ret = int((int(q + 0.5) if q >= 0 else -int(-q + 0.5)) or 1) * divisor
        if ret < 0.95 * n:
            ret += divisor
    return max(ret, divisor)


class _Net:
    """A growing layer list: ``add`` returns the new layer's index, ``last`` the previous one."""

    def __init__(self, prefix: str = "") -> None:
        self.layers: list[Layer] = []
        self.prefix = prefix

    @property
    def last(self) -> int:
        return len(self.layers) - 1

    def add(self, layer: Layer) -> int:
        self.layers.append(layer)
        return self.last

    def conv(
        self,
        name: str,
        K: int,
        C: int,
        k: int,
        out: tuple[int, int],
        stride: int = 1,
        groups: int = 1,
        skips: Sequence[int] = (),
        add: bool = False,
    ) -> int:
        """A k x k conv with output ``out`` = (H, W); ``add`` fuses a residual add of its output."""
        h, w = out
        skips = tuple(s for s in skips if s != self.last)
        return self.add(
            Layer.conv(
                self.prefix + name,
                K=K,
                C=C,
                R=k,
                Yo=h,
                Xo=w,
                stride=stride,
                groups=groups,
                vec_ops=ADD_OPS * K * h * w if add else 0,
                skips=skips,
            )
        )

    def dw(self, name: str, C: int, k: int, out: tuple[int, int], stride: int = 1) -> int:
        """A depthwise k x k conv (one filter per channel)."""
        return self.conv(name, C, C, k, out, stride, groups=C)

    def pool(
        self,
        name: str,
        C: int,
        out: tuple[int, int],
        k: int = 1,
        stride: int = 1,
        skips: Sequence[int] = (),
    ) -> int:
        """A pool, upsample or element-wise op over C x H x W outputs reading k x k windows."""
        skips = tuple(s for s in skips if s != self.last)
        return self.add(
            Layer.eltwise(
                self.prefix + name, C=C, Yo=out[0], Xo=out[1], R=k, stride=stride, skips=skips
            )
        )

    def gemm(
        self, name: str, M: int, N: int, K: int, skips: Sequence[int] = (), vec_ops: int = 0
    ) -> int:
        skips = tuple(s for s in skips if s != self.last)
        return self.add(Layer.gemm(self.prefix + name, M=M, N=N, K=K, skips=skips, vec_ops=vec_ops))


def _check_sizes(**sizes: int) -> None:
    for name, v in sizes.items():
        check_positive_int(name, v)


# --- GoogLeNet ---------------------------------------------------------------------------------

#: Szegedy et al., "Going deeper with convolutions", CVPR 2015, Table 1: per inception module
#: (#1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj).
_INCEPTION = {
    "3a": (64, 96, 128, 16, 32, 32),
    "3b": (128, 128, 192, 32, 96, 64),
    "4a": (192, 96, 208, 16, 48, 64),
    "4b": (160, 112, 224, 24, 64, 64),
    "4c": (128, 128, 256, 24, 64, 64),
    "4d": (112, 144, 288, 32, 64, 64),
    "4e": (256, 160, 320, 32, 128, 128),
    "5a": (256, 160, 320, 32, 128, 128),
    "5b": (384, 192, 384, 48, 128, 128),
}


def googlenet(size: int = 224, classes: int = 1000) -> list[Layer]:
    """GoogLeNet (Inception v1) at ``size x size x 3``, as in the paper's Table 1 (true 5x5 convs,
    no auxiliary classifiers, no LRN): 57 convs, 13 pools, 1 fc.

    SCAR's sc6 lists GoogLeNet without an input size; 224x224 is the paper's. Each inception
    branch reads the module input (``skips``); the next module's first layers read all four
    branch outputs.
    """
    _check_sizes(size=size, classes=classes)
    n = _Net()
    s = _down(size, 2)
    n.conv("conv1", 64, 3, 7, (s, s), stride=2)
    s = _down(s, 2)
    n.pool("pool1", 64, (s, s), k=3, stride=2)
    n.conv("conv2.reduce", 64, 64, 1, (s, s))
    n.conv("conv2", 192, 64, 3, (s, s))
    s = _down(s, 2)
    n.pool("pool2", 192, (s, s), k=3, stride=2)
    c_in, block_in = 192, [n.last]
    for name, (b1, r3, b3, r5, b5, pp) in _INCEPTION.items():
        if name in ("4a", "5a"):
            s = _down(s, 2)
            n.pool(f"pool{name[0]}", c_in, (s, s), k=3, stride=2, skips=block_in)
            block_in = [n.last]
        p = f"inception{name}."
        i1 = n.conv(p + "1x1", b1, c_in, 1, (s, s), skips=block_in)
        n.conv(p + "3x3.reduce", r3, c_in, 1, (s, s), skips=block_in)
        i3 = n.conv(p + "3x3", b3, r3, 3, (s, s))
        n.conv(p + "5x5.reduce", r5, c_in, 1, (s, s), skips=block_in)
        i5 = n.conv(p + "5x5", b5, r5, 5, (s, s))
        n.pool(p + "pool", c_in, (s, s), k=3, skips=block_in)
        ip = n.conv(p + "pool.proj", pp, c_in, 1, (s, s))
        c_in, block_in = b1 + b3 + b5 + pp, [i1, i3, i5, ip]
    n.pool("avgpool", c_in, (1, 1), k=s, stride=s, skips=block_in)
    n.gemm("fc", M=1, N=classes, K=c_in)
    return n.layers


# --- inverted-residual (FBNet / D2Go / EfficientNet-Lite) blocks --------------------------------


def _irf(
    n: _Net,
    name: str,
    c_in: int,
    c_out: int,
    k: int,
    stride: int,
    mid: int,
    res: tuple[int, int],
    se: int = 0,
    tiles: int = 1,
) -> tuple[int, tuple[int, int]]:
    """An inverted-residual block: 1x1 expand (skipped when ``mid == c_in``, as mobile_cv does),
    k x k depthwise (strided), optional squeeze-excite with ``se`` channels, 1x1 project; the
    residual add when the shape is kept. ``tiles`` images lie side by side along X (RoIs): the
    squeeze-excite runs once per tile. Returns the output channels and size."""
    block_in = n.last
    out = (_down(res[0], stride), _down(res[1], stride))
    if mid != c_in:
        n.conv(name + ".pw", mid, c_in, 1, res)
    n.dw(name + ".dw", mid, k, out, stride)
    if se:
        dw_out = n.last
        n.pool(name + ".se.pool", mid, (1, tiles), k=out[0], stride=out[0])
        n.conv(name + ".se.fc1", se, mid, 1, (1, tiles))
        n.conv(name + ".se.fc2", mid, se, 1, (1, tiles))
        n.pool(name + ".se.scale", mid, out, skips=(dw_out,))
    residual = stride == 1 and c_in == c_out
    n.conv(name + ".pwl", c_out, mid, 1, out, skips=(block_in,) if residual else (), add=residual)
    return c_out, out


def _se_channels(mid: int) -> int:
    """mobile_cv's squeeze-excite width: a quarter of the block's middle channels, to a multiple of 8."""
    return _divisible(int(mid * 0.25))


#: One FBNet-builder block row: (op, kernel, out channels, stride, repeats, expansion, SE).
_Block = tuple[str | None, int, int, int, int, int, bool]

#: D2Go's "FBNetV3_A" detection arch (facebookresearch/d2go,
#: d2go/modeling/modeldef/modeldef.py): per stage, (kernel, out channels, stride, repeats,
#: expansion, squeeze-excite). Stages 0-3 are the trunk; the RPN repeats the last entry of stage 3;
#: the RoI box head is stage 4.
_FBNETV3_A: list[list[_Block]] = [
    [("conv", 3, 16, 2, 1, 1, False), (None, 3, 16, 1, 2, 1, False)],
    [(None, 5, 24, 2, 1, 4, False), (None, 5, 24, 1, 3, 3, False)],
    [(None, 5, 32, 2, 1, 4, True), (None, 3, 32, 1, 3, 3, True)],
    [
        (None, 5, 64, 2, 1, 4, False),
        (None, 3, 64, 1, 3, 3, False),
        (None, 5, 112, 1, 1, 4, True),
        (None, 5, 112, 1, 5, 3, True),
    ],
    [(None, 5, 184, 2, 1, 4, True), (None, 3, 184, 1, 4, 4, True), (None, 5, 200, 1, 1, 6, True)],
]


def _fbnet_stages(
    n: _Net,
    stages: Sequence[Sequence[_Block]],
    c: int,
    res: tuple[int, int],
    tag: str,
    tiles: int = 1,
) -> tuple[int, tuple[int, int]]:
    """FBNet-builder stages; mid channels = in x expansion to a multiple of 8 (mobile_cv)."""
    for si, stage in enumerate(stages):
        bi = 0
        for op, k, c_out, stride, repeats, e, se in stage:
            for r in range(repeats):
                s = stride if r == 0 else 1
                name = f"{tag}{si}.{bi}"
                if op == "conv":
                    res = (_down(res[0], s), _down(res[1], s))
                    n.conv(name + ".conv", c_out, c, k, res, stride=s)
                    c = c_out
                elif op == "skip":
                    pass  # an identity block
                else:
                    mid = _divisible(c * e)
                    se_c = _se_channels(mid) if se else 0
                    c, res = _irf(n, name, c, c_out, k, s, mid, res, se=se_c, tiles=tiles)
                bi += 1
    return c, res


def d2go(height: int = 224, width: int = 299, rois: int = 30, classes: int = 80) -> list[Layer]:
    """D2Go's Faster-RCNN-FBNetV3A (config ``faster_rcnn_fbnetv3a_C4.yaml``) at 224 x 299 x 3.

    The config resizes the shorter side to 224 (``MIN_SIZE_TEST``, longer side at most 320): a
    4:3 frame becomes 224 x 299, the input XRBench's ``OD_D2go_FasterRCNN`` uses. Trunk: FBNetV3-A
    stages 0-3 (stride 16, 112 channels); RPN: five more stage-3 blocks and 1x1 convs for 15
    anchors (5 sizes x 3 ratios) x (objectness, 4 deltas); RoI box head: stage 4 on ``rois``
    6x6 pooled RoIs (``POST_NMS_TOPK_TEST: 30``), average pool, class (classes + 1) and box
    (4 x classes) linear layers. NMS, RoIAlign and box decoding are not layers.
    """
    _check_sizes(height=height, width=width, rois=rois, classes=classes)
    n = _Net()
    c, res = _fbnet_stages(n, _FBNETV3_A[:4], 3, (height, width), "trunk")
    trunk = n.last
    last = _FBNETV3_A[3][-1]
    c, res = _fbnet_stages(
        n, [[(last[0], last[1], last[2], 1, 5, last[5], last[6])]], c, res, "rpn"
    )
    anchors = 15
    n.conv("rpn.objectness", anchors, c, 1, res)
    n.conv("rpn.deltas", 4 * anchors, c, 1, res, skips=(n.last - 1,))
    n.pool("roi_align", c, (6, 6 * rois), k=2, skips=(trunk,))
    c, (h, w) = _fbnet_stages(n, [_FBNETV3_A[4]], c, (6, 6 * rois), "box.stage", rois)
    n.pool("box.avgpool", c, (1, rois), k=h, stride=h)
    n.gemm("box.cls", M=rois, N=classes + 1, K=c)
    n.gemm("box.deltas", M=rois, N=4 * classes, K=c, skips=(n.last - 1,))
    return n.layers


# --- ResNet bottlenecks (PlaneRCNN) and basic blocks (sparse-to-dense) ---------------------------


def _resnet_stem(n: _Net, c_in: int, res: tuple[int, int]) -> tuple[int, int]:
    """7x7/2 conv to 64 channels, 3x3/2 max-pool; returns the stride-4 size."""
    res = (_down(res[0], 2), _down(res[1], 2))
    n.conv("conv1", 64, c_in, 7, res, stride=2)
    res = (_down(res[0], 2), _down(res[1], 2))
    n.pool("maxpool", 64, res, k=3, stride=2)
    return res


def _bottleneck_stages(
    n: _Net, blocks: Sequence[int], res: tuple[int, int], stride_on_1x1: bool
) -> tuple[list[int], tuple[int, int]]:
    """ResNet bottleneck stages (widths 64..512, 4x expansion); returns each stage's last layer.

    ``stride_on_1x1`` strides the first 1x1 conv (the Caffe / Matterport Mask R-CNN layout that
    PlaneRCNN keeps) instead of the 3x3 (torchvision's v1.5).
    """
    c_in, outs = 64, []
    for stage, (width, count) in enumerate(zip((64, 128, 256, 512), blocks), start=1):
        for b in range(count):
            stride = 2 if (b == 0 and stage > 1) else 1
            out = (_down(res[0], stride), _down(res[1], stride))
            p, block_in = f"C{stage + 1}.{b}.", n.last
            n.conv(p + "conv1", width, c_in, 1, out if stride_on_1x1 else res, stride=stride)
            n.conv(p + "conv2", width, width, 3, out, stride=1 if stride_on_1x1 else stride)
            project = b == 0
            n.conv(
                p + "conv3",
                4 * width,
                width,
                1,
                out,
                skips=() if project else (block_in,),
                add=not project,
            )
            if project:
                n.conv(
                    p + "downsample",
                    4 * width,
                    c_in,
                    1,
                    out,
                    stride=stride,
                    skips=(block_in,),
                    add=True,
                )
            c_in, res = 4 * width, out
        outs.append(n.last)
    return outs, res


def planercnn(size: int = 192, proposals: int = 1000, detections: int = 100) -> list[Layer]:
    """PlaneRCNN (Liu et al., CVPR 2019; NVlabs/planercnn ``models/model.py``): the plane
    detection network, a Mask R-CNN on ResNet-101-FPN with a depth decoder, at ``size x size x 3``.

    Input size: the paper pads 640x480 frames to 640x640; XRBench runs a quarter-size variant
    (``PD_Plane_RCNN_Quarter``: 160x160). The official FPN and depth decoder need a multiple of 64,
    so we use 192x192, the nearest such size above XRBench's. Heads, as the official inference
    path and config run them: the RPN (3x3 conv to 512, 1x1 convs for 3 anchors) on P2-P6 with
    shared weights (one layer over all levels' positions), a 1x1 coordinate conv (3 -> 64) at full
    resolution, the classifier (7x7 conv to 1024, 1x1 conv, class / box / plane-normal linears for
    8 classes: 7 anchor normals + background) on ``proposals`` RoIs (``POST_NMS_ROIS_INFERENCE``),
    and the mask head (four 3x3 convs, 2x2/2 deconv, 1x1 conv) on ``detections`` RoIs
    (``DETECTION_MAX_INSTANCES``), both caps: a real frame may use fewer. The segmentation
    refinement network (a second network, run per detected plane) is left out.
    """
    _check_sizes(size=size, proposals=proposals, detections=detections)
    if size % 64:
        raise ValueError(f"PlaneRCNN size must be a multiple of 64 (FPN levels), got {size}")
    n, nc = _Net(), 8
    res = _resnet_stem(n, 3, (size, size))
    c_outs, _ = _bottleneck_stages(n, (3, 4, 23, 3), res, stride_on_1x1=True)
    sizes = [size // 4, size // 8, size // 16, size // 32]
    lat: dict[int, int] = {}  # FPN level -> its lateral conv's layer index
    for lvl in (5, 4, 3, 2):
        s = sizes[lvl - 2]
        lat[lvl] = n.conv(
            f"fpn.P{lvl}.lateral",
            256,
            (256, 512, 1024, 2048)[lvl - 2],
            1,
            (s, s),
            skips=(c_outs[lvl - 2],) + ((lat[lvl + 1],) if lvl < 5 else ()),
            add=lvl < 5,
        )
    p = {}
    for lvl in (5, 4, 3, 2):
        s = sizes[lvl - 2]
        p[lvl] = n.conv(f"fpn.P{lvl}", 256, 256, 3, (s, s), skips=(lat[lvl],))
    s6 = _down(sizes[3], 2)
    p[6] = n.pool("fpn.P6", 256, (s6, s6), k=1, stride=2, skips=(p[5],))
    positions = sum(s * s for s in sizes) + s6 * s6
    n.conv("rpn.shared", 512, 256, 3, (1, positions), skips=tuple(p.values()))
    n.conv("rpn.class", 2 * 3, 512, 1, (1, positions))
    n.conv("rpn.bbox", 4 * 3, 512, 1, (1, positions), skips=(n.last - 1,))
    n.conv("coordinates", 64, 3, 1, (size, size))
    coords = n.last
    n.pool(
        "classifier.roi_align",
        256 + 64,
        (7, 7 * proposals),
        k=2,
        skips=(p[2], p[3], p[4], p[5], coords),
    )
    n.gemm("classifier.conv1", M=proposals, N=1024, K=(256 + 64) * 49)
    n.gemm("classifier.conv2", M=proposals, N=1024, K=1024)
    feat = n.last
    n.gemm("classifier.class", M=proposals, N=nc, K=1024)
    n.gemm("classifier.bbox", M=proposals, N=4 * nc, K=1024, skips=(feat,))
    n.gemm("classifier.parameters", M=proposals, N=3 * nc, K=1024, skips=(feat,))
    n.pool("mask.roi_align", 256, (14, 14 * detections), k=2, skips=(p[2], p[3], p[4], p[5]))
    for i in range(1, 5):
        n.conv(f"mask.conv{i}", 256, 256, 3, (14, 14 * detections))
    # 2x2 stride-2 transposed conv = 1x1 conv with 4x the outputs at the input size (as zoo.unet)
    n.conv("mask.deconv", 4 * 256, 256, 1, (14, 14 * detections))
    n.conv("mask.conv5", nc, 256, 1, (28, 28 * detections))
    # depth decoder: coarsest level first, each step upsamples 2x and concatenates the next level
    levels = [(6, s6), (5, sizes[3]), (4, sizes[2]), (3, sizes[1]), (2, sizes[0])]
    prev = None
    for i, (lvl, s) in enumerate(levels, start=1):
        n.conv(f"depth.conv{i}", 128, 256, 3, (s, s), skips=(p[lvl],))
        lateral = n.last
        c_up = 128 if prev is None else 256
        out_c = 64 if i == 5 else 128
        n.pool(f"depth.up{i}", c_up, (2 * s, 2 * s), skips=(lateral,) + ((prev,) if prev else ()))
        prev = n.conv(f"depth.deconv{i}", out_c, c_up, 3, (2 * s, 2 * s))
    n.conv("depth.pred", 1, 64, 3, (2 * sizes[0], 2 * sizes[0]))
    return n.layers


# --- MiDaS v2.1 small -------------------------------------------------------------------------

#: EfficientNet-Lite3 (Tan & Le 2019; gen-efficientnet-pytorch ``tf_efficientnet_lite3``): width
#: 1.2, depth 1.4 except the first and last stage, stem fixed at 32, no squeeze-excite. Per stage:
#: (kernel, stride, expansion, out channels, repeats).
_EFFNET_LITE3 = [
    (3, 1, 1, 24, 1),
    (3, 2, 6, 32, 3),
    (5, 2, 6, 48, 3),
    (3, 2, 6, 96, 5),
    (5, 1, 6, 136, 5),
    (5, 2, 6, 232, 6),
    (3, 1, 6, 384, 1),
]


def midas_small(height: int = 192, width: int = 256) -> list[Layer]:
    """MiDaS v2.1 small (Ranftl et al., TPAMI 2022; isl-org/MiDaS ``midas_net_custom.py``):
    EfficientNet-Lite3 encoder (stride 32), 3x3 convs to 64/128/256/512 channels, four
    RefineNet-style fusion blocks (residual conv units, 2x upsampling, 1x1 out convs), output head.

    Input: the model's own preprocessing (``midas_v21_small_256``: longer side 256, multiple of
    32, aspect kept) turns a 4:3 frame into 192 x 256, the size XRBench's ``DE_midas_v21_small``
    reaches at its output. The first fusion block has no second input, so its first residual unit
    (4.7M parameters in the official model) never runs and is not here.
    """
    _check_sizes(height=height, width=width)
    n = _Net()
    res = (_down(height, 2), _down(width, 2))
    n.conv("stem", 32, 3, 3, res, stride=2)
    c, taps = 32, []
    for si, (k, stride, e, c_out, repeats) in enumerate(_EFFNET_LITE3):
        for j in range(repeats):
            c, res = _irf(n, f"blocks{si}.{j}", c, c_out, k, stride if j == 0 else 1, c * e, res)
        if si in (1, 2, 4, 6):
            taps.append((n.last, c, res))
    rn = []
    for i, ((tap, c_tap, r), f) in enumerate(zip(taps, (64, 128, 256, 512)), start=1):
        rn.append((n.conv(f"layer{i}_rn", f, c_tap, 3, r, skips=(tap,)), f, r))
    path = None
    for i in (4, 3, 2, 1):
        idx, f, r = rn[i - 1]
        p, src = f"refinenet{i}.", idx
        if path is not None:
            n.conv(p + "rcu1.conv1", f, f, 3, r, skips=(idx,))
            n.conv(p + "rcu1.conv2", f, f, 3, r, skips=(idx,), add=True)
            src = n.pool(p + "add", f, r, skips=(path,))
        n.conv(p + "rcu2.conv1", f, f, 3, r, skips=(src,))
        n.conv(p + "rcu2.conv2", f, f, 3, r, skips=(src,), add=True)
        up = (2 * r[0], 2 * r[1])
        n.pool(p + "upsample", f, up)
        path = n.conv(p + "out_conv", max(f // 2, 64), f, 1, up)
    n.conv("output.conv1", 32, 64, 3, up)
    full = (2 * up[0], 2 * up[1])
    n.pool("output.upsample", 32, full)
    n.conv("output.conv2", 32, 32, 3, full)
    n.conv("output.conv3", 1, 32, 1, full)
    return n.layers


# --- Emformer ---------------------------------------------------------------------------------


def emformer(
    layers: int = 24, d: int = 512, heads: int = 8, ffn: int = 2048, seq_len: int = 128
) -> list[Layer]:
    """Emformer (Shi et al., ICASSP 2021, arXiv 2010.10759) acoustic encoder as XRBench's
    ``ASR_EM_24L`` sizes it: 24 layers, model width 512, 8 heads, FFN 2048, 128 frames at once.

    Per layer: query projection, key+value projection, the two attention products, output
    projection, FFN up and down (layer norms, softmax, GELU and adds fused). XRBench's table
    lists only the five weight GEMMs per layer; we add the attention products over the same 128
    frames, and leave out, as it does, streaming's left-context cache and memory bank (a few keys
    more per query) and the input feature projection.
    """
    _check_sizes(layers=layers, d=d, heads=heads, ffn=ffn, seq_len=seq_len)
    if d % heads:
        raise ValueError(f"Emformer width d={d} must be a multiple of heads={heads}")
    s, dh = seq_len, d // heads
    out: list[Layer] = []
    for b in range(layers):
        p, block_in = f"layer{b}.", len(out) - 1
        out += [
            Layer.gemm(p + "q", M=s, N=d, K=d, vec_ops=LN_OPS * s * d),
            Layer.gemm(p + "kv", M=s, N=2 * d, K=d),
        ]
        i_kv = len(out) - 1
        out += [
            Layer.gemm(
                p + "qk",
                M=s,
                N=s,
                K=dh,
                heads=heads,
                weights=False,
                vec_ops=SOFTMAX_OPS * heads * s * s,
                skips=(i_kv - 1,),
            ),
            Layer.gemm(p + "av", M=s, N=dh, K=s, heads=heads, weights=False, skips=(i_kv,)),
            Layer.gemm(
                p + "out",
                M=s,
                N=d,
                K=d,
                vec_ops=ADD_OPS * s * d,
                skips=(block_in,) if block_in >= 0 else (),
            ),
        ]
        i_out = len(out) - 1
        out += [
            Layer.gemm(p + "ffn1", M=s, N=ffn, K=d, vec_ops=(LN_OPS * d + GELU_OPS * ffn) * s),
            Layer.gemm(p + "ffn2", M=s, N=d, K=ffn, vec_ops=ADD_OPS * s * d, skips=(i_out,)),
        ]
    return out


# --- HRViT-b1 ---------------------------------------------------------------------------------


def _des_dims(c: int) -> tuple[int, int]:
    """HRViT's DES split of a width c = 2^e into (k, p) = (2^(e//2), 2^(e - e//2))."""
    e = c.bit_length() - 1
    return 2 ** (e // 2), 2 ** (e - e // 2)


def _hrvit_block(n: _Net, p: str, c: int, h: int, w: int, ws: int) -> None:
    """One HRViT block on an h x w branch of width c: cross-shaped window attention (query and a
    shared key/value projection, horizontal and vertical stripes of ``ws`` rows / columns on half
    the channels each, a parallel depthwise 3x3 on the values, output projection), the DES
    shortcut (two small linears), and MixCFN (fc1 to 4c, depthwise 3x3 on half and 5x5 on the
    other half, fc2)."""
    t = h * w
    block_in = n.last
    qv = n.gemm(p + "attn.qv", M=t, N=2 * c, K=c, vec_ops=LN_OPS * t * c)
    half = c // 2
    dh = min(half, 32)  # a half narrower than the head width is one head
    hh = half // dh
    avs = []
    for tag, stripes, length in (("h", _down(h, ws), ws * w), ("v", _down(w, ws), ws * h)):
        g = hh * stripes
        n.add(
            Layer.gemm(
                p + f"attn.{tag}.qk",
                M=length,
                N=length,
                K=dh,
                heads=g,
                weights=False,
                vec_ops=SOFTMAX_OPS * g * length * length,
                skips=(qv,) if n.last != qv else (),
            )
        )
        avs.append(
            n.add(
                Layer.gemm(
                    p + f"attn.{tag}.av",
                    M=length,
                    N=dh,
                    K=length,
                    heads=g,
                    weights=False,
                    skips=(qv,),
                )
            )
        )
    n.conv(p + "attn.v_conv", c, c, 3, (h, w), groups=c, skips=(qv,))
    attn = n.gemm(p + "attn.out", M=t, N=c, K=c, skips=tuple(avs))
    k, q = _des_dims(c)
    n.gemm(p + "des.right", M=t * k, N=q, K=q, skips=(block_in,))
    res = n.gemm(
        p + "des.left", M=t * q, N=k, K=k, vec_ops=2 * ADD_OPS * t * c, skips=(attn, block_in)
    )
    n.gemm(p + "ffn.fc1", M=t, N=4 * c, K=c, vec_ops=LN_OPS * t * c)
    fc1 = n.last
    n.conv(p + "ffn.dw3", 2 * c, 2 * c, 3, (h, w), groups=2 * c)
    dw3 = n.conv(p + "ffn.dw5", 2 * c, 2 * c, 5, (h, w), groups=2 * c, skips=(fc1,)) - 1
    n.gemm(
        p + "ffn.fc2", M=t, N=c, K=4 * c, vec_ops=(GELU_OPS * 4 + ADD_OPS) * t * c, skips=(dw3, res)
    )


def hrvit_b1(height: int = 512, width: int = 512, classes: int = 19) -> list[Layer]:
    """HRViT-b1 with the SegFormer head (Gu et al., CVPR 2022, arXiv 2111.01236;
    facebookresearch/HRViT ``segmentation/mmseg/models/backbones/hrvit.py``), Cityscapes classes.

    XRBench's segmentation model is HRViT-b1 on Cityscapes; the official README gives its
    parameters and FLOPs at 512 x 512, the size used here. Stem: two 3x3/2 convs to 64 channels;
    six stages grow four branches (32, 64, 128, 256 channels at strides 4-32; windows 1, 2, 7, 7;
    blocks (1), (1,1), (1,1,6), (1,1,6), (1,1,6,2), (1,1,2,2)), each stage a fusion block (strided
    depthwise + 1x1 convs downwards, 1x1 convs + upsampling upwards) then per branch a patch
    embedding (1x1 + depthwise 3x3) and its HRViT blocks. Head: a 1x1 conv per branch to 256,
    upsampling to stride 4, a 1x1 fusion conv and the classifier.
    """
    _check_sizes(height=height, width=width, classes=classes)
    n = _Net()
    r1 = (_down(height, 2), _down(width, 2))
    n.conv("stem.conv1", 32, 3, 3, r1, stride=2)
    r2 = (_down(r1[0], 2), _down(r1[1], 2))
    n.conv("stem.conv2", 64, 32, 3, r2, stride=2)
    res = [r2]
    for _ in range(3):
        res.append((_down(res[-1][0], 2), _down(res[-1][1], 2)))
    channel_list = [
        [64],
        [32],
        [32, 64],
        [32, 64, 128],
        [32, 64, 128],
        [32, 64, 128, 256],
        [32, 64, 128, 256],
    ]
    block_list = [(1,), (1, 1), (1, 1, 6), (1, 1, 6), (1, 1, 6, 2), (1, 1, 2, 2)]
    ws_list = (1, 2, 7, 7)
    outs = [n.last]  # the layer that produced each branch's current features
    for si, blocks in enumerate(block_list, start=1):
        inc, outc = channel_list[si - 1], channel_list[si]
        fused_c = list(inc) if len(inc) == len(outc) else list(inc) + [outc[-1]]
        fused = []
        for i, oc in enumerate(fused_c):
            parts = []
            for j, ic in enumerate(inc):
                if j == i:
                    parts.append(outs[j])
                    continue
                p = f"stage{si}.fuse{j}to{i}."
                if j < i:
                    f = 2 ** (i - j)
                    n.conv(p + "dw", ic, ic, f + 1, res[i], stride=f, groups=ic, skips=(outs[j],))
                    parts.append(n.conv(p + "pw", oc, ic, 1, res[i]))
                else:
                    n.conv(p + "pw", oc, ic, 1, res[j], skips=(outs[j],))
                    parts.append(n.pool(p + "upsample", oc, res[i]))
            if len(parts) == 1:
                fused.append(parts[0])
            else:
                fused.append(n.pool(f"stage{si}.fuse{i}.add", oc, res[i], skips=parts))
        outs = []
        for i, (ic, oc) in enumerate(zip(fused_c, outc)):
            h, w = res[i]
            p = f"stage{si}.branch{i}."
            n.conv(p + "embed.pw", oc, ic, 1, (h, w), skips=(fused[i],))
            n.dw(p + "embed.dw", oc, 3, (h, w))
            for b in range(blocks[i]):
                _hrvit_block(n, p + f"block{b}.", oc, h, w, ws_list[i])
            outs.append(n.last)
    heads = []
    for i, c in enumerate(channel_list[-1]):
        heads.append(n.conv(f"head.linear{i}", 256, c, 1, res[i], skips=(outs[i],)))
        if i:
            heads[-1] = n.pool(f"head.upsample{i}", 256, res[0])
    n.conv("head.fuse", 256, 4 * 256, 1, res[0], skips=tuple(heads))
    n.conv("head.cls", classes, 256, 1, res[0])
    return n.layers


# --- 3D hand shape and pose (Ge et al., CVPR 2019) ------------------------------------------------


def _hg_residual(n: _Net, p: str, c_in: int, c_out: int, res: tuple[int, int]) -> int:
    """The stacked-hourglass residual module: 1x1 to c_out/2, 3x3, 1x1 to c_out, plus the input
    (through a 1x1 conv when the widths differ)."""
    block_in = n.last
    n.conv(p + "conv1", c_out // 2, c_in, 1, res)
    n.conv(p + "conv2", c_out // 2, c_out // 2, 3, res)
    if c_in == c_out:
        return n.conv(p + "conv3", c_out, c_out // 2, 1, res, skips=(block_in,), add=True)
    n.conv(p + "conv3", c_out, c_out // 2, 1, res)
    return n.conv(p + "conv4", c_out, c_in, 1, res, skips=(block_in,), add=True)


def _hourglass(n: _Net, p: str, depth: int, c: int, s: int) -> int:
    """A recursive hourglass of ``depth`` levels, two residual modules per step."""
    block_in = n.last
    for j in range(2):
        _hg_residual(n, p + f"up1.{j}.", c, c, (s, s))
    up1 = n.last
    n.pool(p + "pool", c, (s // 2, s // 2), k=2, stride=2, skips=(block_in,))
    for j in range(2):
        _hg_residual(n, p + f"low1.{j}.", c, c, (s // 2, s // 2))
    if depth > 1:
        _hourglass(n, p + "low2.", depth - 1, c, s // 2)
    else:
        for j in range(2):
            _hg_residual(n, p + f"low2.{j}.", c, c, (s // 2, s // 2))
    for j in range(2):
        _hg_residual(n, p + f"low3.{j}.", c, c, (s // 2, s // 2))
    return n.pool(p + "up2", c, (s, s), skips=(up1,))


def hand_shape_pose(size: int = 128, joints: int = 21, vertices: int = 1280) -> list[Layer]:
    """Hand S/P: "3D Hand Shape and Pose Estimation from a Single RGB Image" (Ge et al., CVPR
    2019; 3d-hand-shape/hand-graph-cnn), on a ``size x size`` hand crop.

    XRBench's ``HT_hand_graph_cnn_half`` runs the network on a 128x128 crop, half the paper's
    256x256; that is the default. Parts: a two-stack hourglass (256 features, 4 levels) giving 21
    heat maps at size/4; a feature network (1x1 convs on heat maps and features, four pairs of
    residual modules each followed by a 2x2 pool) and two linears to 64 features on the 80
    coarsest mesh vertices; a Chebyshev graph CNN (K = 3, each layer one linear over the stacked
    Chebyshev terms; the sparse Laplacian products are element-wise layers) upsampling to 1280
    vertices x 3; and the pose graph CNN (1280 -> 320 -> 80 vertices) with two linears to the
    20 joint coordinates relative to the root.
    """
    _check_sizes(size=size, joints=joints, vertices=vertices)
    if size % 64:
        raise ValueError(f"hand S/P size must be a multiple of 64 (hourglass levels), got {size}")
    if vertices % 16:
        raise ValueError(f"hand S/P vertices must be a multiple of 16, got {vertices}")
    n, s2, s = _Net(), size // 2, size // 4
    n.conv("conv1", 64, 3, 7, (s2, s2), stride=2)
    _hg_residual(n, "r1.", 64, 128, (s2, s2))
    n.pool("maxpool", 128, (s, s), k=2, stride=2)
    _hg_residual(n, "r4.", 128, 128, (s, s))
    x = _hg_residual(n, "r5.", 128, 256, (s, s))
    heat = enc = enc0 = x
    for st in range(2):
        p = f"hg{st}."
        _hourglass(n, p, 4, 256, s)
        for j in range(2):
            _hg_residual(n, p + f"res{j}.", 256, 256, (s, s))
        lin = n.conv(p + "lin", 256, 256, 1, (s, s))
        heat = n.conv(p + "heatmap", joints, 256, 1, (s, s))
        if st == 0:
            n.conv(p + "ll", 256, 256, 1, (s, s), skips=(lin,))
            enc = enc0 = n.conv(
                p + "heatmap_back", 256, joints, 1, (s, s), skips=(heat, x), add=True
            )
        else:
            enc = lin
    n.conv("feat.heatmap_conv", 256, joints, 1, (s, s), skips=(heat,))
    n.conv("feat.encoding_conv", 256, 256, 1, (s, s), skips=(enc, enc0), add=True)
    r = s
    for i in range(4):
        for j in range(2):
            _hg_residual(n, f"feat.reg{i}.{j}.", 256, 256, (r, r))
        r //= 2
        n.pool(f"feat.pool{i}", 256, (r, r), k=2, stride=2)
    v_coarse = vertices // 16
    n.gemm("mesh.fc1", M=1, N=512, K=256 * r * r)
    n.gemm("mesh.fc2", M=1, N=64 * v_coarse, K=512)
    f, v = 64, v_coarse
    for block, (f_mid, f_out) in enumerate(((64, 32), (32, 3))):
        v *= 4
        n.pool(f"mesh.upsample{block}", f, (1, v))
        for layer, fo in enumerate((f_mid, f_out)):
            n.pool(f"mesh.cheb{block}.{layer}.laplacian", 2 * f, (1, v))
            n.gemm(f"mesh.cheb{block}.{layer}", M=v, N=fo, K=3 * f, skips=(n.last - 1,))
            f = fo
    for block, fo in enumerate((32, 64)):
        for layer in range(2):
            n.pool(f"pose.cheb{block}.{layer}.laplacian", 2 * f, (1, v))
            n.gemm(f"pose.cheb{block}.{layer}", M=v, N=fo, K=3 * f, skips=(n.last - 1,))
            f = fo
        v //= 4
        n.pool(f"pose.pool{block}", f, (1, v), k=1)
    n.gemm("pose.fc1", M=1, N=512, K=f * v)
    n.gemm("pose.fc2", M=1, N=joints - 1, K=512)
    return n.layers


# --- EyeCoD: RITnet segmentation + FBNet-C100 gaze estimation ------------------------------------


def ritnet(
    height: int = 100, width: int = 160, channels: int = 32, classes: int = 4
) -> list[Layer]:
    """RITnet (Chaudhary et al., ICCVW 2019; AayushKrChaudhary/RITnet ``densenet.py``): a U-Net
    of five dense down blocks (2x2 average pools between) and four dense up blocks, 32 channels,
    on a 1-channel eye image; 4 classes. Sizes that do not halve evenly keep the encoder's sizes on
    the way up (the official code needs multiples of 16)."""
    _check_sizes(height=height, width=width, channels=channels, classes=classes)
    n, c = _Net("seg."), channels
    sizes = [(height, width)]
    for _ in range(4):
        sizes.append((sizes[-1][0] // 2, sizes[-1][1] // 2))
    downs, c_in = [], 1
    for i, r in enumerate(sizes, start=1):
        p, block_in = f"down{i}.", n.last
        if i > 1:
            n.pool(p + "pool", c, r, k=2, stride=2)
            block_in = n.last
        n.conv(p + "conv1", c, c_in, 3, r)
        x1 = n.last
        n.conv(p + "conv21", c, c_in + c, 1, r, skips=(block_in,) if block_in >= 0 else ())
        n.conv(p + "conv22", c, c, 3, r)
        n.conv(
            p + "conv31", c, c_in + 2 * c, 1, r, skips=tuple(i for i in (block_in, x1) if i >= 0)
        )
        downs.append(n.conv(p + "conv32", c, c, 3, r))
        c_in = c
    for i, skip in zip(range(1, 5), (downs[3], downs[2], downs[1], downs[0])):
        r, p = sizes[4 - i], f"up{i}."
        up = n.pool(p + "upsample", c, r)
        n.conv(p + "conv11", c, 2 * c, 1, r, skips=(skip,))
        n.conv(p + "conv12", c, c, 3, r)
        n.conv(p + "conv21", c, 3 * c, 1, r, skips=(up, skip))
        n.conv(p + "conv22", c, c, 3, r)
    n.conv("out_conv", classes, c, 1, sizes[0])
    return n.layers


#: FBNet-C (Wu et al., CVPR 2019, Fig. 4 / mobile_cv ``fbnet_modeldef_cls_fbnet.py``): per stage,
#: (op, kernel, out channels, stride, repeats, expansion, squeeze-excite).
_FBNET_C: list[list[_Block]] = [
    [("conv", 3, 16, 2, 1, 1, False)],
    [(None, 3, 16, 1, 1, 1, False)],
    [(None, 3, 24, 2, 1, 6, False), ("skip", 0, 24, 1, 1, 1, False), (None, 3, 24, 1, 2, 1, False)],
    [
        (None, 5, 32, 2, 1, 6, False),
        (None, 5, 32, 1, 1, 3, False),
        (None, 5, 32, 1, 1, 6, False),
        (None, 3, 32, 1, 1, 6, False),
    ],
    [
        (None, 5, 64, 2, 1, 6, False),
        (None, 5, 64, 1, 1, 3, False),
        (None, 5, 64, 1, 2, 6, False),
        (None, 5, 112, 1, 3, 6, False),
        (None, 5, 112, 1, 1, 3, False),
    ],
    [
        (None, 5, 184, 2, 1, 6, False),
        (None, 5, 184, 1, 3, 6, False),
        (None, 3, 352, 1, 1, 6, False),
    ],
    [("conv", 1, 1984, 1, 1, 1, False)],
]


def fbnet_c(height: int = 224, width: int = 224, classes: int = 1000) -> list[Layer]:
    """FBNet-C (the "FBNet-C100" of EyeCoD): the searched trunk, a 1x1 conv to 1984, global
    average pool and the classifier."""
    _check_sizes(height=height, width=width, classes=classes)
    n = _Net("gaze.")
    c, (h, w) = _fbnet_stages(n, _FBNET_C, 3, (height, width), "stage")
    n.pool("avgpool", c, (1, 1), k=max(h, w), stride=max(h, w))
    n.gemm("fc", M=1, N=classes, K=c)
    return n.layers


def eyecod(height: int = 100, width: int = 160) -> list[Layer]:
    """EyeCoD (You et al., ISCA 2022): eye segmentation (RITnet) to find the region of interest,
    then gaze estimation (FBNet-C100) on it, as one chain.

    XRBench runs both (``ES_RITNet``, ``GE_FBNet_C``) on 160 x 100 eye images, a quarter of
    OpenEDS's 640 x 400 per side; SCAR's sc9 and sc10 run them together as "EyeCod". FBNet-C keeps
    its published 1000-way classifier, as XRBench's table does.
    """
    _check_sizes(height=height, width=width)
    seg = ritnet(height, width)
    gaze = fbnet_c(height, width)
    off = len(seg)
    shifted = [
        Layer(**{**layer.__dict__, "skips": tuple(s + off for s in layer.skips)}) for layer in gaze
    ]
    return seg + shifted


# --- sparse-to-dense depth (Ma & Karaman, ICRA 2018) --------------------------------------------


def sparse_to_dense(height: int = 228, width: int = 912, in_ch: int = 4) -> list[Layer]:
    """Sparse-to-Dense (Ma & Karaman, ICRA 2018; fangchangma/sparse-to-dense.pytorch
    ``models.py``): ResNet-18 encoder on RGB + sparse depth (4 channels), a 1x1 conv to 256, four
    UpProj modules (2x unpooling, 5x5 + 3x3 convs beside a 5x5 projection), a 3x3 conv to depth
    and bilinear upsampling to the input size.

    XRBench's ``DR_RGBd_200`` is this network with ResNet-18 on KITTI's 228 x 912 crops (200
    depth samples), which is the default.
    """
    _check_sizes(height=height, width=width, in_ch=in_ch)
    n = _Net()
    res = _resnet_stem(n, in_ch, (height, width))
    c = 64
    for stage, width_c in enumerate((64, 128, 256, 512), start=1):
        for b in range(2):
            stride = 2 if (b == 0 and stage > 1) else 1
            out = (_down(res[0], stride), _down(res[1], stride))
            p, block_in = f"layer{stage}.{b}.", n.last
            n.conv(p + "conv1", width_c, c, 3, out, stride=stride)
            project = stride != 1 or c != width_c
            n.conv(
                p + "conv2",
                width_c,
                width_c,
                3,
                out,
                skips=() if project else (block_in,),
                add=not project,
            )
            if project:
                n.conv(
                    p + "downsample", width_c, c, 1, out, stride=stride, skips=(block_in,), add=True
                )
            c, res = width_c, out
    n.conv("conv2", c // 2, c, 1, res)
    c //= 2
    for i in range(1, 5):
        res = (2 * res[0], 2 * res[1])
        p = f"decoder.layer{i}."
        n.pool(p + "unpool", c, res)
        up = n.last
        n.conv(p + "upper.conv1", c // 2, c, 5, res)
        n.conv(p + "upper.conv2", c // 2, c // 2, 3, res)
        n.conv(p + "bottom.conv", c // 2, c, 5, res, skips=(up, n.last), add=True)
        c //= 2
    n.conv("conv3", 1, c, 3, res)
    n.pool("bilinear", 1, (height, width))
    return n.layers


#: name -> builder, merged into ``zoo.MODELS``.
ARVR_MODELS: dict[str, Callable[..., list[Layer]]] = {
    "googlenet": googlenet,
    "d2go": d2go,
    "planercnn": planercnn,
    "midas-small": midas_small,
    "emformer": emformer,
    "hrvit-b1": hrvit_b1,
    "hand-sp": hand_shape_pose,
    "eyecod": eyecod,
    "sp2dense": sparse_to_dense,
}

#: SCAR Table III, AR/VR (batch = frames per second of XRBench's scenarios), for 256-PE chiplets.
ARVR_SCENARIOS: dict[str, list[tuple[str, int]]] = {
    "sc6": [
        ("googlenet", 32),
        ("d2go", 10),
        ("planercnn", 15),
        ("midas-small", 30),
        ("emformer", 3),
    ],
    "sc7": [("hrvit-b1", 10), ("planercnn", 15), ("hand-sp", 45), ("midas-small", 30)],
    "sc8": [("d2go", 30), ("emformer", 3)],
    "sc9": [("eyecod", 60), ("hand-sp", 30), ("sp2dense", 30)],
    "sc10": [("eyecod", 60), ("hand-sp", 45)],
}

#: Target frame rates (FPS) of each model in XRBench's usage scenarios (Kwon et al., "XRBench: An
#: Extended Reality (XR) Machine Learning Benchmark Suite for the Metaverse", MLSys 2023,
#: arXiv 2211.08675; the ``FPS:`` of each network in github.com/XRBench/XRBench-MLSys2023,
#: XRbench_evaluation/usage_scenarios/*.m, commit 89156663): AR assistant (sc6): D2Go object
#: detection 10, PlaneRCNN plane detection 15, MiDaS depth 30, Emformer speech 3; AR gaming
#: (sc7): hand tracking 45, MiDaS 30, PlaneRCNN 15, and HRViT segmentation 10 (from the AR
#: assistant and outdoor scenarios, where it runs); outdoor activity (sc8): D2Go 30, Emformer 3;
#: social interaction A (sc9): eye segmentation and gaze 60 (EyeCod), depth refinement 30
#: (sparse-to-dense), hand tracking 30; VR gaming (sc10): eye 60, hand tracking 45. They equal
#: SCAR's batches (one second of frames). GoogLeNet (sc6) is not in XRBench: its rate is a
#: placeholder, its batch of 32 per second (SCAR Table III), i.e. the same 1 s deadline.
ARVR_TARGET_FPS: dict[str, dict[str, float]] = {
    "sc6": {"googlenet": 32, "d2go": 10, "planercnn": 15, "midas-small": 30, "emformer": 3},
    "sc7": {"hrvit-b1": 10, "planercnn": 15, "hand-sp": 45, "midas-small": 30},
    "sc8": {"d2go": 30, "emformer": 3},
    "sc9": {"eyecod": 60, "hand-sp": 30, "sp2dense": 30},
    "sc10": {"eyecod": 60, "hand-sp": 45},
}
