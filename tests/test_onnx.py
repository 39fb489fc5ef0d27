import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper  # noqa: E402

from costmodel.onnx_import import load_onnx  # noqa: E402


def _graph(path):
    """conv -> relu -> maxpool -> flatten -> gemm, shapes only (weights as empty initializers)."""
    import numpy as np
    from onnx import numpy_helper

    W = numpy_helper.from_array(np.zeros((16, 3, 3, 3), np.int8), "W")
    F = numpy_helper.from_array(np.zeros((10, 16 * 16 * 16), np.int8), "F")
    nodes = [
        helper.make_node("Conv", ["x", "W"], ["c"], name="conv", pads=[1, 1, 1, 1], strides=[1, 1]),
        helper.make_node("Relu", ["c"], ["r"], name="relu"),
        helper.make_node("MaxPool", ["r"], ["p"], name="pool", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Flatten", ["p"], ["f"], name="flat"),
        helper.make_node("Gemm", ["f", "F"], ["y"], name="fc", transB=1),
    ]
    g = helper.make_graph(
        nodes,
        "tiny",
        [helper.make_tensor_value_info("x", TensorProto.INT8, [1, 3, 32, 32])],
        [helper.make_tensor_value_info("y", TensorProto.INT8, [1, 10])],
        initializer=[W, F],
    )
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    onnx.save(model, str(path))


def test_onnx_shapes_become_layers(tmp_path):
    p = tmp_path / "tiny.onnx"
    _graph(p)
    m = load_onnx(p)
    kinds = [layer.kind for layer in m.layers]
    assert kinds == ["conv", "eltwise", "eltwise", "gemm"]
    conv, fc = m.layers[0], m.layers[-1]
    assert (conv.K, conv.C, conv.R, conv.Yo, conv.Xo) == (16, 3, 3, 32, 32)
    assert fc.gemm_dims() == (1, 10, 4096) and fc.weights
    assert m.macs() == 16 * 3 * 9 * 32 * 32 + 10 * 4096


def test_onnx_missing_file(tmp_path):
    with pytest.raises(ValueError, match="file not found"):
        load_onnx(tmp_path / "none.onnx")
