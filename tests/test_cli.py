import json
import subprocess
import sys

import pytest

from experiments.cli import main


def test_cost_report_table(capsys):
    assert (
        main(
            ["cost", "--model", "resnet50", "--pattern", "het-sides", "--rows", "2", "--cols", "2"]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "conv1" in out and "ws-4096" in out and "os-4096" in out and "TOTAL" in out


@pytest.mark.parametrize("sc", ["sc1", "sc2", "sc3", "sc4", "sc5", "seed"])
@pytest.mark.parametrize("size", [2, 3, 6])
def test_cost_report_every_scenario_and_mesh(capsys, sc, size):
    pattern = "het-cross" if size >= 3 else "het-sides"
    assert (
        main(
            [
                "cost",
                "--scenario",
                sc,
                "--pattern",
                pattern,
                "--rows",
                str(size),
                "--cols",
                str(size),
                "--json",
            ]
        )
        == 0
    )
    rep = json.loads(capsys.readouterr().out)
    assert rep["workload"] == sc and len(rep["totals"]) >= 2
    assert all(t["cycles"]["ws-4096"] > 0 for t in rep["totals"])


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["cost", "--pattern", "spiral"], "pattern"),
        (["cost", "--model", "vgg"], "model"),
        (["cost", "--scenario", "sc99"], "scenario"),
        (["cost", "--rows", "zero"], "--rows"),
        (["cost", "--noc-bw", "fast"], "--noc-bw"),
        (["cost", "--model-file", "/nonexistent.yaml"], "file not found"),
    ],
)
def test_bad_input_one_line_exit_2(capsys, argv, needle):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert needle in err and err.count("\n") == 1 and "Traceback" not in err


def test_console_script_exit_status():
    r = subprocess.run(
        [sys.executable, "-m", "experiments.cli", "cost", "--pattern", "x"],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 2 and r.stderr.count("\n") == 1


def test_search_json_and_benchmark(tmp_path, capsys):
    assert (
        main(
            [
                "search",
                "--scenario",
                "sc1",
                "--pattern",
                "het-sides",
                "--rows",
                "3",
                "--cols",
                "3",
                "--algo",
                "ga",
                "--evals",
                "300",
                "--seed",
                "0",
                "--objective",
                "edp",
                "--out",
                str(tmp_path / "s"),
                "--json",
            ]
        )
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert out["best_objective"] == pytest.approx(out["edp"])
    assert {"latency_s", "energy_j", "edp"} <= set(out)
    assert (tmp_path / "s" / "history.jsonl").exists()
    argv = [
        "benchmark",
        "--scenario",
        "sc1",
        "--rows",
        "2",
        "--cols",
        "2",
        "--evals",
        "100",
        "--seeds",
        "2",
        "--agents",
        "random,ga",
        "--out",
        str(tmp_path / "b"),
    ]
    assert main(argv) == 0
    csv_text = (tmp_path / "b" / "benchmark.csv").read_text().splitlines()
    assert len(csv_text) == 1 + 4 and (tmp_path / "b" / "fitness_curves.png").stat().st_size > 0
    mtime = (tmp_path / "b" / "ga" / "seed0" / "result.json").stat().st_mtime
    assert main(argv) == 0  # a rerun skips finished runs
    assert (tmp_path / "b" / "ga" / "seed0" / "result.json").stat().st_mtime == mtime


def test_evaluate_schedule_file(tmp_path, capsys):
    from costmodel import Problem, mcm, scenario, simba

    p = Problem(scenario("sc1"), mcm("het-sides", 3, 3))
    f = tmp_path / "s.json"
    simba(p, "ws").to_json(f)
    argv = ["evaluate", str(f), "--scenario", "sc1", "--pattern", "het-sides"]
    assert main([*argv, "--rows", "3", "--cols", "3", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["latency_s"] == pytest.approx(p.evaluate(simba(p, "ws")).latency_s)
    # a schedule file names no problem: the workload and the whole MCM must be given
    for short in (argv[:2], argv[:4], [*argv[:2], "--pattern", "het-sides", "--rows", "3"]):
        assert main(short) == 2
        err = capsys.readouterr().err
        assert "names no problem" in err and err.count("\n") == 1


@pytest.fixture(scope="module")
def searched_result(tmp_path_factory):
    """A result.json written by `chiplet-sched search` (seed scenario, 2x3 het-sides) and the
    figures the search printed."""
    import contextlib
    import io

    out = tmp_path_factory.mktemp("search")
    argv = ["search", "--scenario", "seed", "--pattern", "het-sides", "--rows", "2"]
    argv += ["--cols", "3", "--algo", "ga", "--evals", "60", "--out", str(out), "--json"]
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(argv) == 0
    return out / "result.json", json.loads(buf.getvalue())


def test_evaluate_result_json_rebuilds_its_problem(searched_result, capsys):
    path, reported = searched_result
    assert main(["evaluate", str(path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["edp"] == pytest.approx(reported["edp"], rel=1e-12)
    assert out["latency_s"] == pytest.approx(reported["latency_s"], rel=1e-12)
    # options override parts of the recorded problem: a faster L2->PE network is not slower
    assert main(["evaluate", str(path), "--noc-bw", "512", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["latency_s"] <= out["latency_s"]


@pytest.mark.parametrize(
    "extra, needle",
    [
        (["--scenario", "sc1"], "model 0 'gpt2', this problem 'gpt2-large'"),
        (["--scenario", "sc2"], "2 models (gpt2, resnet50), this problem 3"),
        (["--model", "gpt2"], "models"),
        (["--cols", "2"], "2x3 mesh, this problem 2x2"),
        (["--pattern", "homo-ws", "--rows", "3", "--cols", "3"], "mesh"),
    ],
)
def test_evaluate_refuses_a_schedule_for_another_problem(searched_result, capsys, extra, needle):
    path, _ = searched_result
    assert main(["evaluate", str(path), *extra]) == 2
    err = capsys.readouterr().err
    assert "another problem" in err and needle in err and err.count("\n") == 1


@pytest.mark.parametrize(
    "field, needle",
    [("layers", "57 layers in model 'resnet50', this problem 56"), ("batch", "batch 2")],
)
def test_evaluate_refuses_other_layer_counts_and_batches(
    searched_result, tmp_path, capsys, field, needle
):
    path, _ = searched_result
    d = json.loads(path.read_text())
    d["problem"]["models"][1][field] += 1  # as if searched for another resnet50
    f = tmp_path / "r.json"
    f.write_text(json.dumps(d))
    assert main(["evaluate", str(f)]) == 2
    err = capsys.readouterr().err
    assert needle in err and err.count("\n") == 1


@pytest.mark.parametrize("bad", [1.5, "a", True])
def test_evaluate_refuses_a_non_integer_chiplet(searched_result, tmp_path, capsys, bad):
    from costmodel import Schedule

    path, _ = searched_result
    d = json.loads(path.read_text())
    d["schedule"]["chiplet"][0][2] = bad
    f = tmp_path / "r.json"
    f.write_text(json.dumps(d))
    assert main(["evaluate", str(f)]) == 2
    err = capsys.readouterr().err
    assert "chiplet[0][2] must be an integer" in err and err.count("\n") == 1
    d["schedule"]["chiplet"][0][2] = 0
    d["schedule"]["window"][1][0] = bad
    with pytest.raises(ValueError, match=r"window\[1\]\[0\] must be an integer"):
        Schedule.from_dict(d["schedule"])


def test_huge_yaml_layer_costs_positive_counts(tmp_path, capsys):
    f = tmp_path / "big.yaml"
    f.write_text(
        "name: big\nlayers:\n  - {name: huge, kind: conv, K: 100000000, C: 100000000, Yo: 100000}\n"
    )
    assert main(["cost", "--model-file", str(f), "--json"]) == 0
    row = json.loads(capsys.readouterr().out)["layers"][0]
    assert row["macs"] == pytest.approx(1e26, rel=1e-15)  # 1e8 * 1e8 * 1e5 * 1e5, no overflow
    assert min(row["cycles"].values()) > 0 and min(row["energy_uj"].values()) > 0


def test_oversized_yaml_layer_one_line_exit_2(tmp_path, capsys):
    f = tmp_path / "big.yaml"
    f.write_text("name: big\nlayers:\n  - {name: huge, kind: conv, K: 100000000000, C: 1, Yo: 1}\n")
    assert main(["cost", "--model-file", str(f)]) == 2
    err = capsys.readouterr().err
    assert "K must be <= 2147483647" in err and err.count("\n") == 1


def test_noc_latency_is_charged_with_unconstrained_bandwidth(tmp_path, capsys):
    # A GEMM on `os` (M over every PE) does one (n, k) pair per step, N*K steps, each sending its
    # outputs: with unconstrained bandwidth a step costs max(latency, 1) and the first one
    # latency + 1 (MAESTRO's delay model), so N*K at latency 0 and (N*K - 1) * 5 + 6 at latency 5.
    f = tmp_path / "g.yaml"
    f.write_text("name: g\nlayers:\n  - {name: g, kind: gemm, M: 128, N: 128, K: 64}\n")
    cycles = {}
    for lat in (0, 5):
        argv = ["cost", "--model-file", str(f), "--pattern", "homo-os", "--rows", "1"]
        argv += ["--cols", "1", "--noc-bw", "none", "--noc-latency", str(lat), "--json"]
        assert main(argv) == 0
        cycles[lat] = json.loads(capsys.readouterr().out)["layers"][0]["cycles"]["os-4096"]
    assert cycles == {0: 128 * 64, 5: (128 * 64 - 1) * 5 + 6}
    assert main(["cost", "--noc-latency", "-1"]) == 2
    assert "noc_latency" in capsys.readouterr().err


def test_search_agent_options(tmp_path, capsys):
    """--option KEY=VALUE reaches the agent (values read as YAML); the output names the problem."""
    args = ["search", "--scenario", "sc1", "--algo", "policy", "--evals", "60", "--json"]
    assert main([*args, "--option", "learn=false", "--option", "seed_baselines=false"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["evals"] == 60 and out["problem"] == "sc1 on het-sides-2x2"
    assert main([*args, "--option", "learn=false", "--out", str(tmp_path / "r")]) == 0
    capsys.readouterr()
    saved = json.loads((tmp_path / "r" / "result.json").read_text())
    assert saved["config"]["learn"] is False


@pytest.mark.parametrize(
    "option, message",
    [
        ("learn", "--option needs KEY=VALUE"),
        ("colour=red", "does not take option 'colour'"),
        ("learn=3", "option 'learn' must be true or false"),
    ],
)
def test_search_bad_agent_option(tmp_path, capsys, option, message):
    out = tmp_path / "never"
    rc = main(
        ["search", "--scenario", "sc1", "--algo", "policy", "--option", option, "--out", str(out)]
    )
    err = capsys.readouterr().err.strip()
    assert rc == 2 and message in err and err.count("\n") == 0 and not out.exists()
