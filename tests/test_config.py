import pytest
import yaml

from costmodel.config import load_mcm, load_model

MODEL = {
    "name": "tiny",
    "batch": 2,
    "layers": [
        {"name": "conv1", "kind": "conv", "K": 64, "C": 3, "R": 7, "Yo": 112, "stride": 2},
        {"name": "pool", "kind": "eltwise", "C": 64, "Yo": 56, "R": 3, "stride": 2},
        {"name": "fc", "kind": "gemm", "M": 1, "N": 1000, "K": 2048, "skips": [0]},
    ],
}


def test_model_yaml_round_trip(tmp_path):
    p = tmp_path / "tiny.yaml"
    p.write_text(yaml.safe_dump(MODEL))
    m = load_model(p)
    assert m.name == "tiny" and m.batch == 2 and len(m) == 3
    assert m.layers[2].gemm_dims() == (1, 1000, 2048) and m.layers[2].skips == (0,)


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda d: d["layers"][0].update(Q=1), "unknown key 'Q'"),
        (lambda d: d["layers"][0].pop("K"), "missing key 'K'"),
        (lambda d: d["layers"][0].update(K="64"), "K must be an integer"),
        (lambda d: d["layers"][1].update(kind="lstm"), "kind must be one of"),
        (lambda d: d.update(batch=0), "batch"),
        (lambda d: d.update(colour="red"), "unknown key 'colour'"),
    ],
)
def test_bad_model_yaml_names_the_field(mutate, message):
    import copy

    d = copy.deepcopy(MODEL)
    mutate(d)
    with pytest.raises(ValueError, match=message):
        load_model(d)


def test_mcm_yaml_grid_and_pattern(tmp_path):
    p = tmp_path / "m.yaml"
    p.write_text("grid: [WW, WO]\nchiplet: {noc_bw: 128}\nnop_bw: 5.0e10\n")
    m = load_mcm(p)
    assert m.grid_letters() == ["WW", "WO"] and m.nop_bw == 5e10
    assert all(c.noc_bw == 128 for c in m.classes)
    m = load_mcm({"pattern": "het-cross", "rows": 3, "cols": 3, "pes": 256})
    assert m.classes[0].pes == 256


@pytest.mark.parametrize(
    "d, message",
    [
        ({"pattern": "het-sides", "rows": "3"}, "rows must be an integer"),
        ({"pattern": "het-sides", "chiplet": {"colour": 1}}, "unknown key 'colour'"),
        ({"rows": 2}, "pattern"),
        ({"grid": "WO"}, "grid must be a list"),
    ],
)
def test_bad_mcm_yaml(d, message):
    with pytest.raises(ValueError, match=message):
        load_mcm(d)


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="file not found"):
        load_model(tmp_path / "nope.yaml")
