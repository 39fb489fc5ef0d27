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
        (["cost", "--scenario", "sc9"], "scenario"),
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
