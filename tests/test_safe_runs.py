"""Results that survive: atomic files, runs reused only under their own config, a folder lock,
Ctrl-C, and result.json files that name their problem."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from costmodel import Layer, Model, Problem, Workload, mcm, monolithic, scenario
from costmodel.files import atomic_open, write_text_atomic
from costmodel.spec import describe_problem, fingerprint, problem_from_spec, problem_spec
from experiments.cli import main
from search import Algorithm, Budget, run

REPO = Path(__file__).resolve().parents[1]

CONFIG = """\
name: safe
kind: search
workload: {scenario: seed}
mcm: {pattern: het-sides, rows: 2, cols: 2}
agents: [random, ga]
seeds: [0, 1]
budget: {evals: EVALS}
"""


def _config(tmp_path: Path, evals: int = 60, text: str = CONFIG) -> Path:
    f = tmp_path / "cfg.yaml"
    f.write_text(text.replace("EVALS", str(evals)))
    return f


def _tmp_files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.name.endswith(".tmp")]


def _one_line(err: str) -> bool:
    return err.count("\n") == 1 and "Traceback" not in err


# --- atomic files ----------------------------------------------------------------------------
def test_atomic_write_is_whole_or_nothing(tmp_path):
    f = tmp_path / "r.json"
    write_text_atomic(f, "old")
    with pytest.raises(RuntimeError), atomic_open(f) as h:
        h.write("half of the new")
        raise RuntimeError("killed mid-write")
    assert f.read_text() == "old" and not _tmp_files(tmp_path)
    write_text_atomic(f, "new")
    assert f.read_text() == "new" and not _tmp_files(tmp_path)


class _Crash(Algorithm):
    name = "crash"

    def search(self, problem, ev, rng):
        ev(problem.sample(4, rng))
        raise RuntimeError("agent died")


def test_failed_search_leaves_no_history_or_result(tmp_path):
    p = Problem(scenario("seed"), mcm("het-sides", 2, 2))
    with pytest.raises(RuntimeError, match="agent died"):
        run(p, _Crash(), Budget(evals=10), log_dir=tmp_path)
    assert sorted(x.name for x in tmp_path.iterdir()) == []


class _Twice(Algorithm):
    """Evaluates one schedule twice: the second call improves nothing, so in improvements mode
    its record is written only when the history is closed."""

    name = "twice"

    def search(self, problem, ev, rng):
        g = problem.sample(1, rng)
        ev(g)
        ev(g)


@pytest.mark.parametrize("where", ["hash", "search", "close"])
def test_ctrl_c_anywhere_in_a_run_leaves_no_temporary_file(tmp_path, monkeypatch, where):
    # CI once found a .history.jsonl.*.tmp left by a Ctrl-C that came while the run was hashed,
    # after the history's temporary file was opened and before the try that removes it
    from search.base import Evaluator

    p = Problem(scenario("seed"), mcm("het-sides", 2, 2))
    write = Evaluator._write

    def interrupted(self, rec):
        if (
            where == "search" or self._pending is rec
        ):  # "close": the last record, written at the end
            raise KeyboardInterrupt
        write(self, rec)

    def hash_interrupted(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(Evaluator, "_write", interrupted)
    if where == "hash":
        monkeypatch.setattr("search.api.run_hash", hash_interrupted)
    with pytest.raises(KeyboardInterrupt):
        run(p, _Twice(), Budget(evals=50), log_dir=tmp_path, history="improvements")
    assert list(tmp_path.iterdir()) == []


class _InterruptedClose:
    def close(self):
        raise KeyboardInterrupt


def test_interrupted_discard_still_removes_the_temporary_file(tmp_path):
    f = atomic_open(tmp_path / "r.json")
    real = f.file
    f._file = _InterruptedClose()
    with pytest.raises(KeyboardInterrupt):
        f.discard()
    real.close()
    assert list(tmp_path.iterdir()) == []


def test_an_atomic_file_exists_only_from_its_first_use(tmp_path):
    # CI found a .history.jsonl.*.tmp after a Ctrl-C: a constructor that opened the file left it
    # when the interrupt came between its return and the assignment of its result
    f = atomic_open(tmp_path / "r.json")
    assert list(tmp_path.iterdir()) == []
    f.discard()
    assert list(tmp_path.iterdir()) == []
    f = atomic_open(tmp_path / "r.json")
    assert f.commit().read_text() == ""  # committed unused: an empty file, as before
    assert [x.name for x in tmp_path.iterdir()] == ["r.json"]


def test_ctrl_c_right_after_the_temporary_file_is_created_removes_it(tmp_path, monkeypatch):
    import builtins

    def open_then_interrupted(*args, **kwargs):
        builtins.open(*args, **kwargs).close()  # the file exists ...
        raise KeyboardInterrupt  # ... and the Ctrl-C comes before it is held

    f = atomic_open(tmp_path / "r.json")
    monkeypatch.setattr("costmodel.files.open", open_then_interrupted, raising=False)
    with pytest.raises(KeyboardInterrupt):
        _ = f.file
    assert list(tmp_path.iterdir()) == []


def test_ctrl_c_as_the_evaluator_is_made_leaves_no_temporary_file(tmp_path, monkeypatch):
    from search.base import Evaluator

    made = Evaluator.__init__

    def made_then_interrupted(self, *args, **kwargs):
        made(self, *args, **kwargs)
        raise KeyboardInterrupt  # after the evaluator exists, before run() holds it

    monkeypatch.setattr(Evaluator, "__init__", made_then_interrupted)
    p = Problem(scenario("seed"), mcm("het-sides", 2, 2))
    with pytest.raises(KeyboardInterrupt):
        run(p, _Twice(), Budget(evals=50), log_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []


# --- reruns: reuse only what is complete and from the same config ---------------------------
def test_torn_results_are_recomputed(tmp_path, capsys):
    cfg, out = _config(tmp_path), tmp_path / "r"
    assert main(["run", str(cfg), "--out", str(out)]) == 0
    assert capsys.readouterr().out.rstrip().endswith("runs: 0 reused, 4 recomputed")
    good = json.loads((out / "ga" / "seed0" / "result.json").read_text())
    (out / "ga" / "seed0" / "result.json").write_text("")  # killed before a byte was written
    torn = (out / "random" / "seed1" / "result.json").read_text()
    (out / "random" / "seed1" / "result.json").write_text(torn[: len(torn) // 2])
    (out / "ga" / "seed1" / "history.jsonl").write_text('{"evals": 1')  # torn history
    assert main(["run", str(cfg), "--out", str(out)]) == 0
    assert capsys.readouterr().out.rstrip().endswith("runs: 1 reused, 3 recomputed")
    again = json.loads((out / "ga" / "seed0" / "result.json").read_text())
    assert again["best"] == good["best"] and again["run_hash"] == good["run_hash"]
    csv_rows = (out / "benchmark.csv").read_text().splitlines()[1:]
    assert len(csv_rows) == 4 and all(r.endswith(",ok") for r in csv_rows)
    assert not _tmp_files(out)


def test_a_bumped_agent_revision_recomputes_its_runs(tmp_path, capsys, monkeypatch):
    from search.genetic import GA

    cfg, out = _config(tmp_path), tmp_path / "r"
    assert main(["run", str(cfg), "--out", str(out)]) == 0
    capsys.readouterr()
    old = json.loads((out / "ga" / "seed0" / "result.json").read_text())["run_hash"]
    monkeypatch.setattr(GA, "revision", 1)  # the GA's code changed what it computes
    assert main(["run", str(cfg), "--out", str(out)]) == 0
    assert capsys.readouterr().out.rstrip().endswith("runs: 2 reused, 2 recomputed")
    new = json.loads((out / "ga" / "seed0" / "result.json").read_text())["run_hash"]
    assert new != old


def test_an_improvement_only_history_is_not_reused_for_one_wanting_every_call(tmp_path):
    from experiments.benchmark import run_one

    p = Problem(scenario("seed"), mcm("het-sides", 2, 2))
    thin = run_one(p, "ga", 0, Budget(evals=200), tmp_path, history="improvements")
    assert not thin.reused
    assert run_one(p, "ga", 0, Budget(evals=200), tmp_path, history="improvements").reused
    full = run_one(p, "ga", 0, Budget(evals=200), tmp_path)  # wants every call: recomputed
    assert not full.reused and len(full.history) > len(thin.history)
    assert run_one(p, "ga", 0, Budget(evals=200), tmp_path, history="improvements").reused


def test_run_of_another_budget_is_recomputed_not_relabeled(tmp_path, capsys):
    out = tmp_path / "r"
    assert main(["run", str(_config(tmp_path, 60)), "--out", str(out)]) == 0
    saved = (out / "config.yaml").read_text()
    capsys.readouterr()
    cfg = _config(tmp_path, 90)
    assert main(["run", str(cfg), "--out", str(out)]) == 2  # another config: refused
    err = capsys.readouterr().err
    assert "--force" in err and _one_line(err)
    assert (out / "config.yaml").read_text() == saved  # nothing written
    assert main(["run", str(cfg), "--out", str(out), "--force"]) == 0
    assert capsys.readouterr().out.rstrip().endswith("runs: 0 reused, 4 recomputed")
    for d in (out / "ga" / "seed0", out / "random" / "seed1"):
        assert json.loads((d / "result.json").read_text())["evals"] == 90
        assert json.loads((d / "history.jsonl").read_text().splitlines()[-1])["evals"] == 90
    assert "'evals': 90" in (out / "summary.md").read_text()


def test_force_recomputes_every_run_of_the_same_config(tmp_path, capsys):
    out, cfg = tmp_path / "r", _config(tmp_path, 40)
    assert main(["run", str(cfg), "--out", str(out)]) == 0
    capsys.readouterr()
    assert main(["run", str(cfg), "--out", str(out)]) == 0
    assert capsys.readouterr().out.rstrip().endswith("runs: 4 reused, 0 recomputed")
    assert main(["run", str(cfg), "--out", str(out), "--force"]) == 0
    assert capsys.readouterr().out.rstrip().endswith("runs: 0 reused, 4 recomputed")


def test_saved_config_compared_after_resolving_defaults(tmp_path, capsys):
    """A folder whose config.yaml lacks a key that now has a default is the same config."""
    import yaml

    out, cfg = tmp_path / "r", _config(tmp_path, 40)
    assert main(["run", str(cfg), "--out", str(out)]) == 0
    saved = yaml.safe_load((out / "config.yaml").read_text())
    del saved["baselines"], saved["max_windows"]  # as written before these had defaults
    (out / "config.yaml").write_text(yaml.safe_dump(saved))
    capsys.readouterr()
    assert main(["run", str(cfg), "--out", str(out)]) == 0
    assert capsys.readouterr().out.rstrip().endswith("runs: 4 reused, 0 recomputed")


def test_benchmark_cli_recomputes_another_budget(tmp_path, capsys):
    argv = ["benchmark", "--scenario", "seed", "--pattern", "het-sides", "--seeds", "1"]
    argv += ["--agents", "random", "--out", str(tmp_path / "b")]
    assert main([*argv, "--evals", "40"]) == 0
    assert main([*argv, "--evals", "40"]) == 0
    assert capsys.readouterr().out.rstrip().endswith("runs: 1 reused, 0 recomputed")
    assert main([*argv, "--evals", "70"]) == 0
    assert capsys.readouterr().out.rstrip().endswith("runs: 0 reused, 1 recomputed")
    res = json.loads((tmp_path / "b" / "random" / "seed0" / "result.json").read_text())
    assert res["evals"] == 70


# --- one process per folder --------------------------------------------------------------------
def test_locked_folder_refuses_a_second_run(tmp_path, capsys):
    out = tmp_path / "r"
    out.mkdir()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from filelock import FileLock; l = FileLock(sys.argv[1]); "
            "l.acquire(); print('locked', flush=True); time.sleep(60)",
            str(out / ".lock"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        assert main(["run", str(_config(tmp_path)), "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert str(out) in err and "in use" in err and _one_line(err)
        bench = ["benchmark", "--scenario", "seed", "--evals", "10", "--seeds", "1"]
        assert main([*bench, "--agents", "random", "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert str(out) in err and _one_line(err)
        assert sorted(x.name for x in out.iterdir()) == [".lock"]  # nothing written
    finally:
        holder.kill()
        holder.wait()
    assert main(["run", str(_config(tmp_path)), "--out", str(out)]) == 0  # free again


def test_ctrl_c_keeps_finished_runs(tmp_path):
    # far more work than the test waits for (with SIGINT ignored, see below, 80 short runs once
    # finished and exited 0): the test stops it after the first finished run
    text = CONFIG.replace("seeds: [0, 1]", f"seeds: {list(range(400))}")
    cfg, out = _config(tmp_path, 2000, text), tmp_path / "r"
    proc = subprocess.Popen(
        [sys.executable, "-m", "experiments.cli", "run", str(cfg), "--out", str(out)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # a test run started in the background (`cmd &`, nohup) inherits SIGINT ignored, and
        # Python then installs no KeyboardInterrupt handler: give the child the default back
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.time() + 120
    while not list(out.glob("random/seed*/result.json")) and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and _one_line(err) and "interrupted" in err
    done = list(out.glob("*/seed*/result.json"))
    assert 1 <= len(done) < 800
    for f in done:  # every result kept is whole and has its whole history beside it
        assert json.loads(f.read_text())["evals"] == 2000
        last = json.loads((f.parent / "history.jsonl").read_text().splitlines()[-1])
        assert last["evals"] == 2000
    assert not _tmp_files(out)
    assert not os.path.exists(out / "summary.md")


# --- result.json names its problem --------------------------------------------------------------
def _tiny_workload() -> Workload:
    a = Model("cnn", [Layer.conv("c0", K=32, C=3, R=3, Yo=28), Layer.gemm("fc", M=1, N=10, K=64)])
    b = Model("pool", [Layer.eltwise("p", C=8, Yo=4, R=2, stride=2)], batch=2)
    return Workload([a, b])


@pytest.mark.parametrize(
    "make",
    [
        lambda: Problem(scenario("sc1"), mcm("het-sides", 3, 3)),
        lambda: Problem(scenario("seed", seq_len=256), mcm("het-cross", 3, 3, pes=256)),
        lambda: Problem(_tiny_workload(), mcm(grid=["WS", "OT"], noc_bw=None), max_windows=3),
        lambda: Problem(
            scenario("seed"),
            mcm("homo-os", 1, 2, dataflows=("ws", "systolic-os"), l2_bytes=2**20),
            objective="latency",
        ),
        lambda: Problem(scenario("seed"), monolithic(mcm("het-sides", 2, 2), "os-best")),
    ],
)
def test_problem_spec_rebuilds_the_same_problem(make):
    p = make()
    spec = json.loads(json.dumps(problem_spec(p)))
    assert spec["workload"] is not None and spec["mcm"] is not None
    q = problem_from_spec(spec)
    assert fingerprint(describe_problem(q)) == spec["fingerprint"]
    assert q.objective == p.objective and q.max_windows == p.max_windows
    assert spec["mesh"] == [p.mcm.rows, p.mcm.cols]
    assert [m["layers"] for m in spec["models"]] == [len(m) for m in p.workload.models]


def test_result_json_names_its_problem(tmp_path):
    p = Problem(scenario("seed"), mcm("het-sides", 2, 2), objective="energy")
    run(p, "random", Budget(evals=20), seed=0, log_dir=tmp_path)
    spec = json.loads((tmp_path / "result.json").read_text())["problem"]
    assert spec["workload"] == {"scenario": "seed", "seq_len": 128}
    assert spec["mcm"] == {"pattern": "het-sides", "rows": 2, "cols": 2, "pes": 4096}
    assert spec["objective"] == "energy" and spec["max_windows"] == 2
