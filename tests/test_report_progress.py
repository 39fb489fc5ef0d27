"""README result tables regenerated from the committed results (experiments.readme), and the
progress of an experiment's runs (experiments.progress, search.run's progress hook)."""

import io
import re
from pathlib import Path

import pytest

from costmodel import Problem, mcm
from experiments import progress as progress_mod
from experiments.config import validate_config
from experiments.progress import RunProgress
from experiments.readme import main as readme_main
from experiments.runner import run_config
from search import Budget, run
from search.executors import ProcessExecutor, SerialExecutor, TaskFailure
from tests.instances import tiny_workload

REPO = Path(__file__).resolve().parent.parent


# --- README tables ---------------------------------------------------------------------------
def test_readme_tables_agree_with_committed_results(capsys):
    text = (REPO / "README.md").read_text()
    assert text.count("<!-- table: ") >= 5  # the result tables are generated blocks
    assert readme_main(["--check"]) == 0, capsys.readouterr().err
    assert (REPO / "README.md").read_text() == text  # --check writes nothing


def _readme_copy(tmp_path: Path, text: str) -> Path:
    (tmp_path / "docs").symlink_to(REPO / "docs")  # sources resolve beside the README
    f = tmp_path / "README.md"
    f.write_text(text)
    return f


def test_tampered_table_is_named_and_regenerated(tmp_path, capsys):
    text = (REPO / "README.md").read_text()
    m = re.search(
        r"<!-- table: (docs/results/quickstart/[^ ]+)[^\n]*\n\n\| strategy.*\n.*\n(.*)", text
    )
    assert m, "the quickstart table block"
    row = m.group(2)
    cells = row.split(" | ")
    cells[1] = "0.0001"  # a latency the summary does not hold
    tampered = text.replace(row, " | ".join(cells), 1)
    f = _readme_copy(tmp_path, tampered)
    line = text[: m.start()].count("\n") + 1  # the block's marker line
    assert readme_main(["--check", "--readme", str(f)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"README.md:{line}:" in err and m.group(1) in err
    assert f.read_text() == tampered  # --check changes nothing
    assert readme_main(["--readme", str(f)]) == 0
    assert f.read_text() == text  # regenerated: the committed README again
    assert readme_main(["--check", "--readme", str(f)]) == 0


def test_blocks_from_csv_and_markdown_sources(tmp_path):
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "s.csv").write_text(
        "kind,name,value,count\nedp,a,1234.5678,3\nlatency,b,0.5,4\nedp,c,,12000\n"
    )
    (tmp_path / "r" / "summary.md").write_text(
        "# title\n\n| x |\n|---|\n| 0 |\n\n## Part two (extra)\n\n| p | q |\n|---|---|\n"
        "| 1 | one |\n\ntext\n\n| p | q |\n|---|---|\n| 2 | two |\n\n## Three\n\n| p |\n|---|\n"
        "| 3 |\n"
    )
    f = tmp_path / "README.md"
    f.write_text(
        "intro\n<!-- table: r/s.csv | where=kind=edp | cols=name as Name, value, count{,} -->\n"
        "old\n<!-- /table -->\nmiddle\n"
        "<!-- table: r/summary.md#Part two@2 | cols=q as Q, p -->\n<!-- /table -->\nend\n"
    )
    assert readme_main(["--readme", str(f)]) == 0
    assert f.read_text() == (
        "intro\n<!-- table: r/s.csv | where=kind=edp | cols=name as Name, value, count{,} -->\n"
        "\n| Name | value | count |\n|---|---|---|\n| a | 1235 | 3 |\n| c | - | 12,000 |\n\n"
        "<!-- /table -->\nmiddle\n"
        "<!-- table: r/summary.md#Part two@2 | cols=q as Q, p -->\n"
        "\n| Q | p |\n|---|---|\n| two | 2 |\n\n<!-- /table -->\nend\n"
    )


@pytest.mark.parametrize(
    "marker, message",
    [
        ("r/missing.md", "source file not found"),
        ("r/summary.md#Nowhere", "no section starting 'Nowhere'"),
        ("r/summary.md@3", "no table @3"),
        ("r/summary.md | cols=p, z", "no column 'z'"),
        ("r/summary.md | sort=p", "bad option"),
    ],
)
def test_bad_marker_is_one_line_exit_2(tmp_path, capsys, marker, message):
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "summary.md").write_text("| p |\n|---|\n| 1 |\n")
    f = tmp_path / "README.md"
    text = f"x\n<!-- table: {marker} -->\n<!-- /table -->\n"
    f.write_text(text)
    assert readme_main(["--readme", str(f)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and "README.md:2" in err
    assert f.read_text() == text


# --- progress --------------------------------------------------------------------------------
class FakeClock:
    """Advances ``step`` seconds each time it is read."""

    def __init__(self, step: float) -> None:
        self.t, self.step = 0.0, step

    def __call__(self) -> float:
        self.t += self.step
        return self.t


LINE = re.compile(r"^\[\d\d:\d\d:\d\d\] tiny: run 1/1 ga seed 0: ([\d,]+)/1,000 evals, best (\S+)$")


def test_non_tty_prints_throttled_lines_from_the_search():
    stream = io.StringIO()  # not a terminal
    clock = FakeClock(0.25)  # every report is 0.25 s after the one before
    p = Problem(tiny_workload(), mcm("het-sides", 2, 2), max_windows=2)
    with RunProgress(1, "tiny", stream=stream, interval=1.0, clock=clock) as bar:
        assert not bar.tty
        r = run(p, "ga", Budget(evals=1000), seed=0, progress=bar.within("ga seed 0", 1000))
        bar.finished("ga seed 0", r.best_fitness)
    lines = stream.getvalue().splitlines()
    calls = len(r.history)  # one report per evaluator call
    assert calls >= 8
    within = [m for m in map(LINE.match, lines) if m]
    # at most one line per second of (fake) time: the 4th, 8th, ... report
    assert len(within) == calls // 4
    for k, m in enumerate(within, 1):
        h = r.history[4 * k - 1]
        assert int(m.group(1).replace(",", "")) == h["evals"]
        assert float(m.group(2)) == pytest.approx(h["best"], rel=1e-3)
    assert re.search(r"\] tiny: 1/1 runs done in [\d.]+ s$", lines[-1])  # closing line


def test_short_job_prints_nothing_and_bar_counts_runs():
    stream = io.StringIO()
    with RunProgress(3, "q", stream=stream, tty=False, interval=60.0) as bar:
        for i in range(3):
            bar.within(f"ga seed {i}", 100)(50, 1.0)
            bar.finished(f"ga seed {i}", 1.0)
    assert stream.getvalue() == ""  # nothing within the first interval
    tty = io.StringIO()
    with RunProgress(2, "q", stream=tty, tty=True) as bar:
        bar.finished("ga seed 0", 2.0)
        bar.finished("ga seed 1", None)
        assert bar.done == 2 and bar._bar.n == 2
    assert "q:" in tty.getvalue() and "0/2" in tty.getvalue()  # drawn on the given stream


def test_runner_logs_each_run_when_not_a_terminal(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(progress_mod, "LOG_INTERVAL_S", 0.0)  # every report prints
    cfg = validate_config(
        {
            "name": "prog",
            "kind": "search",
            "workload": {"scenario": "seed"},
            "mcm": {"pattern": "het-sides", "rows": 2, "cols": 2},
            "agents": ["random"],
            "seeds": [0, 1],
            "budget": {"evals": 40},
        }
    )
    run_config(cfg, tmp_path / "r")
    err = capsys.readouterr().err.splitlines()
    for s in (0, 1):
        assert any(f"prog: run {s + 1}/2 random seed {s}: " in x and "/40 evals" in x for x in err)
        assert any(f"{s + 1}/2 runs done (last: random seed {s}, best " in x for x in err)
    assert re.search(r"prog: 2/2 runs done in [\d.]+ s$", err[-1])


def _maybe_fail(shared, x):
    if x == 2:
        raise ValueError("two")
    return x * shared


def _dask():
    pytest.importorskip("dask.distributed")
    from search.executors import DaskExecutor

    return DaskExecutor(workers=1)


@pytest.mark.parametrize("make", [SerialExecutor, lambda: ProcessExecutor(2), _dask])
def test_executors_report_each_task_as_it_finishes(make):
    seen = []
    with make() as ex:
        out = ex.map(_maybe_fail, [0, 1, 2, 3], shared=10, on_done=lambda i, r: seen.append((i, r)))
    assert out[:2] == [0, 10] and out[3] == 30 and isinstance(out[2], TaskFailure)
    assert sorted(i for i, _ in seen) == [0, 1, 2, 3]
    assert all(r is out[i] or r == out[i] for i, r in seen)


def test_committed_summary_tables_parse():
    """Every summary the README cites holds at least one Markdown table (a sanity check on the
    parser the README blocks use)."""
    from experiments.readme import md_tables

    for d in ("quickstart", "benchmark", "seed", "scar-3x3", "scar-arvr", "scaling"):
        tables = md_tables((REPO / "docs" / "results" / d / "summary.md").read_text().splitlines())
        assert tables and all(len(r) == len(h) for h, rows in tables for r in rows)
