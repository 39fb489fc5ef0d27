"""Every bad input a user reported (issue 11) gets one line naming the file and the field, exit 2,
and leaves nothing behind; the same configs raise a ValueError naming the field in Python."""

from pathlib import Path

import pytest
import yaml

from costmodel import mcm
from costmodel.config import load_mcm, load_model, read_yaml
from costmodel.hardware import MAX_CHIPLETS, MAX_MESH_SIDE
from experiments.cli import main
from experiments.config import validate_config

BASE = """\
name: t
kind: search
workload: {scenario: seed}
mcm: {pattern: het-sides, rows: 2, cols: 2}
agents: [random]
seeds: [0]
budget: {evals: 20}
"""


def _variant(old: str, new: str) -> str:
    assert old in BASE
    return BASE.replace(old, new)


#: (config text, text the error must contain)
BAD_CONFIGS = [
    (_variant("seeds: [0]", "seeds: [-1]"), "seeds.0"),
    (_variant("seeds: [0]", "seeds: [1.5]"), "seeds.0"),
    (_variant("seeds: [0]", "seeds: [0, 0]"), "distinct"),
    (_variant("seeds: [0]", "seeds: 0"), "seed count"),
    (_variant("seeds: [0]", "seeds: [0]\nagent_options: [1, 2]"), "agent_options"),
    (_variant("seeds: [0]", "seeds: [0]\nagent_options: {random: {bogus: 1}}"), "bogus"),
    (_variant("seeds: [0]", "seeds: [0]\nagent_options: {ga: {}}"), "not among agents"),
    (_variant("seeds: [0]", "seeds: [0]\nbaselines: [[standalone-ws]]"), "baselines.0"),
    (_variant("seeds: [0]", "seeds: [0]\nbaselines: [sequential-ws]"), "sequential-ws"),
    (_variant("seeds: [0]", "seeds: [0]\nbaselines: [nope]"), "standalone-ws"),
    (_variant("name: t", "name: ../../escape"), "name"),
    (_variant("name: t", "name: a/b"), "name"),
    (_variant("name: t", "name: ''"), "name"),
    (_variant("name: t", "name: t\nname: u"), "duplicate key 'name'"),
    (_variant("rows: 2, cols: 2", "rows: 2, cols: 2, dram_bw: abc"), "dram_bw"),
    (_variant("rows: 2, cols: 2", "rows: 100000, cols: 2"), f"at most {MAX_MESH_SIDE}"),
    (_variant("rows: 2, cols: 2", "rows: 64, cols: 64"), f"at most {MAX_CHIPLETS}"),
    (_variant("agents: [random]", "agents: []"), "agents"),
    (_variant("agents: [random]", "agents: [nope]"), "unknown agent 'nope'"),
    (_variant("budget: {evals: 20}", "budget: {evals: 0}"), "budget.evals"),
    (_variant("budget: {evals: 20}", "budget: {evals: 100000000000}"), "budget.evals"),
    (_variant("budget: {evals: 20}", "budget: {}"), "evals and/or seconds"),
    (_variant("budget: {evals: 20}", "budget: {evals: 20, x: 1}"), "allowed: evals, seconds"),
    (_variant("kind: search", "kind: nope"), "kind must be one of"),
    (_variant("seeds: [0]", "seeds: [0]\nobjective: fast"), "fast"),
    (_variant("seeds: [0]", "seeds: [0]\nfoo: 1"), "foo: unknown key; allowed:"),
    (_variant("workload: {scenario: seed}", "workload: {scenario: sc99}"), "sc99"),
    (
        "name: h\nkind: hetero\nmixes: 3\nchiplet_pes: [256]\npairs: [[ws, os]]\nnoc_bw: [64]\n"
        "budget: {evals: 20}\n",
        "mixes",
    ),
    (
        "name: h\nkind: hetero\nmixes: {a: [{model: resnet50}]}\nchiplet_pes: [256]\n"
        "pairs: [[ws, os, ws]]\nnoc_bw: [64]\nbudget: {evals: 20}\n",
        "two dataflows",
    ),
    (
        "name: h\nkind: hetero\nmixes: {../x: [{model: resnet50}]}\nchiplet_pes: [256]\n"
        "pairs: [[ws, os]]\nnoc_bw: [64]\nbudget: {evals: 20}\n",
        "mix name",
    ),
    (
        "name: s\nkind: scar\nscenarios: sc1\nstrategies: [simba-ws]\nbudget: {evals: 20}\n",
        "scenarios",
    ),
    (
        "name: s\nkind: scar\nscenarios: [sc1]\nstrategies: ['search:spiral']\n"
        "budget: {evals: 20}\n",
        "search:het-sides",
    ),
    (
        "name: s\nkind: scar\nscenarios: [sc1]\nstrategies: [simba-ws]\nrows: 100000\n"
        "budget: {evals: 20}\n",
        "rows",
    ),
    (
        "name: s\nkind: scaling\nsizes: [{rows: 2, cols: 2, scenario: sc1}]\npopulation: 10000000\n"
        "budget: {evals: 20}\n",
        "population",
    ),
    (
        "name: b\nkind: benchmark\nproblems: {x: {small_instance: 0, mcm: {}}}\n"
        "budget: {evals: 20}\n",
        "small_instance takes no other key",
    ),
    ("name: b\nkind: benchmark\nproblems: {}\nbudget: {evals: 20}\n", "problems"),
    ("- a list\n", "mapping"),
]


@pytest.mark.parametrize("text, needle", BAD_CONFIGS)
def test_bad_config_one_line_exit_2_nothing_written(tmp_path, capsys, text, needle):
    cfg, out = tmp_path / "cfg.yaml", tmp_path / "out"
    cfg.write_text(text)
    assert main(["run", str(cfg), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert str(cfg) in err and needle in err, err
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cfg.yaml"]


@pytest.mark.parametrize("text, needle", [c for c in BAD_CONFIGS if "duplicate" not in c[1]])
def test_bad_config_is_a_value_error_naming_the_field(text, needle):
    with pytest.raises(ValueError, match="cfg.yaml") as info:
        validate_config(yaml.safe_load(text), "cfg.yaml")
    assert needle in str(info.value)


def test_committed_configs_validate():
    for f in sorted(Path("experiments/configs").glob("*.yaml")):
        cfg = validate_config(read_yaml(f), str(f))
        assert cfg["name"] == f.stem or cfg["name"]


def test_defaults_are_filled_in_once():
    cfg = validate_config(yaml.safe_load(BASE))
    assert cfg["objective"] == "edp" and cfg["baselines"] == [] and cfg["agent_options"] == {}
    scar = validate_config(
        yaml.safe_load(
            "name: s\nkind: scar\nscenarios: [sc1]\nstrategies: [simba-ws]\nobjective: latency\n"
            "budget: {evals: 20}\n"
        )
    )
    assert (scar["rows"], scar["cols"], scar["pes"], scar["objectives"]) == (
        3,
        3,
        4096,
        ["latency"],
    )
    assert validate_config({**yaml.safe_load(BASE), "seeds": 3})["seeds"] == [0, 1, 2]


def test_non_utf8_config_names_the_file(tmp_path, capsys):
    cfg = tmp_path / "cfg.yaml"
    cfg.write_bytes(b"name: t\xff\xfe\nkind: search\n")
    assert main(["run", str(cfg), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert str(cfg) in err and "not UTF-8" in err and "0xff" in err
    assert not (tmp_path / "o").exists()


def test_duplicate_keys_refused_in_nested_mappings(tmp_path):
    f = tmp_path / "m.yaml"
    f.write_text("pattern: het-sides\nrows: 2\ncols: 2\nchiplet: {noc_bw: 8, noc_bw: 16}\n")
    with pytest.raises(ValueError, match="duplicate key 'noc_bw'") as info:
        load_mcm(f)
    assert str(f) in str(info.value)


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["cost", "--rows", "100000", "--cols", "100000"], "rows must be at most"),
        (["cost", "--rows", "40", "--cols", "40"], "chiplets"),
        (["benchmark", "--seeds", "0", "--out", "OUT"], "--seeds"),
        (["benchmark", "--agents", "", "--out", "OUT"], "--agents"),
        (["benchmark", "--agents", " , ", "--out", "OUT"], "--agents"),
        (["benchmark", "--agents", "nope", "--out", "OUT"], "nope"),
        (["search", "--evals", "0", "--out", "OUT"], "evals"),
    ],
)
def test_bad_command_line_one_line_exit_2(tmp_path, capsys, argv, needle):
    argv = [x.replace("OUT", str(tmp_path / "out")) for x in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err and needle in err, err
    assert not (tmp_path / "out").exists()


def test_out_naming_a_file_is_refused(tmp_path, capsys):
    cfg, f = tmp_path / "cfg.yaml", tmp_path / "afile"
    cfg.write_text(BASE)
    f.write_text("mine")
    assert main(["run", str(cfg), "--out", str(f)]) == 2
    err = capsys.readouterr().err
    assert str(f) in err and err.count("\n") == 1
    assert f.read_text() == "mine"


def test_evaluate_on_a_folder(tmp_path, capsys):
    assert main(["evaluate", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "is a folder" in err and err.count("\n") == 1


def test_model_file_skips_must_be_indices(tmp_path, capsys):
    f = tmp_path / "m.yaml"
    f.write_text("name: m\nlayers:\n  - {name: a, kind: conv, K: 4, C: 4, Yo: 8, R: 3, skips: a}\n")
    assert main(["cost", "--model-file", str(f)]) == 2
    err = capsys.readouterr().err
    assert str(f) in err and "skips" in err and err.count("\n") == 1


def test_model_file_onnx_goes_to_the_importer(tmp_path, capsys):
    pytest.importorskip("onnx")
    f = tmp_path / "x.onnx"
    f.write_text("not onnx at all")
    assert main(["cost", "--model-file", str(f)]) == 2
    err = capsys.readouterr().err
    assert str(f) in err and "not an ONNX model" in err and err.count("\n") == 1
    with pytest.raises(ValueError, match="not an ONNX model"):
        load_model(f)


def test_mesh_limits_in_python():
    with pytest.raises(ValueError, match=f"at most {MAX_MESH_SIDE}"):
        mcm("het-sides", MAX_MESH_SIDE + 1, 1)
    with pytest.raises(ValueError, match=f"at most {MAX_CHIPLETS}"):
        mcm("het-sides", 33, 32)
    assert mcm("het-sides", 32, 32).n_chiplets == MAX_CHIPLETS
