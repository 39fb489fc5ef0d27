"""Shapes-only ONNX importer (extra ``onnx``): Conv, Gemm and MatMul become layers, pools and
element-wise ops become eltwise layers. Weights are never loaded (``load_external_data=False``)."""

from __future__ import annotations

from pathlib import Path

from .workload import Layer, Model

_ELTWISE = {
    "MaxPool",
    "AveragePool",
    "GlobalAveragePool",
    "Add",
    "Relu",
    "Softmax",
    "LayerNormalization",
    "BatchNormalization",
    "Gelu",
    "Sigmoid",
    "Mul",
}


def _onnx():
    try:
        import onnx
        from onnx import shape_inference
    except ImportError:  # pragma: no cover - exercised only without the extra
        raise ValueError(
            "the ONNX importer needs the 'onnx' extra: pip install 'chiplet-sched[onnx]'"
        ) from None
    return onnx, shape_inference


def load_onnx(path: str | Path, name: str | None = None, batch: int = 1) -> Model:
    """A model from an ONNX graph's shapes (static shapes required; batch taken as 1 per sample)."""
    onnx, shape_inference = _onnx()
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"file not found: {path}")
    try:
        proto = onnx.load(str(path), load_external_data=False)
        proto = shape_inference.infer_shapes(proto)
    except Exception as exc:  # protobuf's DecodeError and onnx's checker errors share no base
        raise ValueError(f"{path}: not an ONNX model ({exc.__class__.__name__})") from None
    if not proto.graph.node:
        raise ValueError(f"{path}: not an ONNX model (no graph nodes)")
    g = proto.graph
    shapes: dict[str, list[int]] = {}
    for vi in list(g.input) + list(g.value_info) + list(g.output):
        dims = [d.dim_value for d in vi.type.tensor_type.shape.dim]
        shapes[vi.name] = dims
    for init in g.initializer:
        shapes[init.name] = list(init.dims)
    inits = {i.name for i in g.initializer}

    def shape(t: str, node) -> list[int]:
        s = shapes.get(t)
        if not s or any(d <= 0 for d in s):
            raise ValueError(
                f"ONNX node {node.name or node.op_type!r}: tensor {t!r} needs a static "
                f"shape, got {s}"
            )
        return s

    layers: list[Layer] = []
    for i, node in enumerate(g.node):
        lname = node.name or f"{node.op_type.lower()}{i}"
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        if node.op_type == "Conv":
            _, c, _, _ = shape(node.input[0], node)
            k, _, r, s = shape(node.input[1], node)
            _, _, yo, xo = shape(node.output[0], node)
            stride = int(attrs.get("strides", [1])[0])
            layers.append(
                Layer.conv(
                    lname,
                    K=k,
                    C=c,
                    R=r,
                    S=s,
                    Yo=yo,
                    Xo=xo,
                    stride=stride,
                    groups=int(attrs.get("group", 1)),
                )
            )
        elif node.op_type in ("Gemm", "MatMul"):
            a, b = shape(node.input[0], node), shape(node.input[1], node)
            if node.op_type == "Gemm" and attrs.get("transB", 0):
                b = b[::-1]
            lead = 1
            for d in a[:-2]:
                lead *= d
            m, kk, n = (a[-2] if len(a) > 1 else 1), a[-1], b[-1]
            if len(b) > 2:  # batched operands (attention): one product per leading index
                layers.append(
                    Layer.gemm(lname, M=m, N=n, K=kk, heads=lead, weights=node.input[1] in inits)
                )
            else:  # a shared 2-D weight: leading dims fold into M (tokens x batch)
                layers.append(
                    Layer.gemm(lname, M=m * lead, N=n, K=kk, weights=node.input[1] in inits)
                )
        elif node.op_type in _ELTWISE:
            out = shape(node.output[0], node)
            c = out[1] if len(out) > 1 else 1
            spatial = out[2:] + [1, 1]
            win = int(attrs.get("kernel_shape", [1])[0])
            layers.append(
                Layer.eltwise(
                    lname,
                    C=c,
                    Yo=spatial[0],
                    Xo=spatial[1],
                    R=win,
                    stride=int(attrs.get("strides", [1])[0]),
                )
            )
        # other ops (reshape, flatten, ...) move no data worth modelling
    if not layers:
        raise ValueError(f"{path}: no Conv, Gemm, MatMul or element-wise node found")
    return Model(name or path.stem, layers, batch)
