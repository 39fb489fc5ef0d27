"""The pictures a reader uses (issue 11 item 6): best-so-far curves that never rise, units on the
axes, several readable ticks on log axes, a zoomed Pareto panel, visible weight loads, full model
names, and a ``plot`` command that never writes over a run's files."""

from __future__ import annotations

import json
import re
import statistics

import matplotlib.pyplot as plt
import numpy as np
import pytest

from costmodel import BASELINES, Problem, mcm, scenario
from costmodel.problem import OBJECTIVES
from costmodel.simulate import Event, Timeline
from experiments import plots
from experiments.cli import main

_SUP = str.maketrans("⁻⁰¹²³⁴⁵⁶⁷⁸⁹", "-0123456789")


def _number(label: str) -> float:
    """A tick label read back as a number (``12,000``, ``0.1005``, ``5×10⁻⁶``, ``10⁻⁵``)."""
    label = label.replace(",", "").replace("\u2212", "-")
    m = re.fullmatch(r"(?:([\d.]+)×)?10([⁻⁰¹²³⁴⁵⁶⁷⁸⁹]+)", label)
    if m:
        return float(m.group(1) or 1) * 10.0 ** int(m.group(2).translate(_SUP))
    return float(label)


def _labelled_ticks(ax, axis: str) -> list[tuple[float, str]]:
    """(value, label) of the major ticks inside the view that carry a label (after a draw)."""
    ax.figure.canvas.draw()
    a = ax.xaxis if axis == "x" else ax.yaxis
    lo, hi = sorted(ax.get_xlim() if axis == "x" else ax.get_ylim())
    return [
        (t.get_loc(), t.label1.get_text())
        for t in a.get_major_ticks()
        if lo <= t.get_loc() <= hi and t.label1.get_visible() and t.label1.get_text()
    ]


def _history(xs, bests, seconds_per_eval: float = 0.01) -> list[dict]:
    return [{"evals": x, "seconds": x * seconds_per_eval, "best": b} for x, b in zip(xs, bests)]


# --- best-so-far curves --------------------------------------------------------------------------
def _brute_best(history: list[dict], key: str, g: float) -> float:
    seen = [h["best"] for h in history if h[key] <= g]
    return min(seen) if seen else float("inf")


@pytest.mark.parametrize("seed", range(8))
def test_median_best_so_far_matches_a_brute_force_median_and_never_rises(seed):
    rng = np.random.default_rng(seed)
    runs = []
    for _ in range(int(rng.integers(2, 7))):  # runs that start late, end early, go up and down
        n = int(rng.integers(1, 30))
        xs = np.sort(rng.choice(np.arange(1, 3000), size=n, replace=False))
        runs.append(_history(xs, rng.uniform(0.5, 10.0, size=n)))
    grid = np.geomspace(1, 4000, 300)
    med, lo, hi = plots._median_and_band(runs, "evals", grid)
    for k in range(0, 300, 7):
        vals = [_brute_best(r, "evals", grid[k]) for r in runs]
        want = statistics.median(vals)
        if np.isfinite(want):
            assert med[k] == pytest.approx(want, rel=1e-12)
            assert lo[k] == pytest.approx(min(vals), rel=1e-12)
        else:
            assert np.isnan(med[k])
        if all(np.isfinite(vals)):
            assert hi[k] == pytest.approx(max(vals), rel=1e-12)
        else:
            assert np.isnan(hi[k])  # the band waits for every run
    for y in (med, lo, hi):
        defined = y[np.isfinite(y)]
        assert np.all(np.diff(defined) <= 0)  # never rises
        # once defined, defined to the end (no run stops counting when it ends)
        if len(defined):
            assert np.all(np.isfinite(y[np.argmax(np.isfinite(y)) :]))


def test_a_late_starting_seed_does_not_pull_the_median_up():
    # two seeds reach 1.0 early; a third starts late at 50: a median over the runs that have
    # started (the old curve) would jump from 1.0 to 1.0..50 and back; the median stays 1.0
    early = [_history([1, 10], [5.0, 1.0]), _history([2, 12], [6.0, 1.0])]
    late = _history([500, 600], [50.0, 40.0])
    grid = np.array([1, 5, 10, 12, 100, 499, 500, 550, 600, 1000], dtype=float)
    med, _, hi = plots._median_and_band([*early, late], "evals", grid)
    assert np.isnan(med[0])  # one of three started: no median yet
    assert list(med[3:]) == [1.0] * 7
    assert np.isnan(hi[5]) and hi[6] == 50.0 and hi[8] == 40.0


def test_drawn_curves_never_rise_on_either_panel():
    rng = np.random.default_rng(3)
    hist = {
        a: [
            _history(
                np.cumsum(rng.integers(1, 50, size=m)),
                rng.uniform(1, 100, size=m),
                seconds_per_eval=float(rng.uniform(1e-3, 1e-1)),
            )
            for m in rng.integers(3, 40, size=5)
        ]
        for a in ("ga", "sa", "random")
    }
    fig = plots._fitness_figure(hist, ylabel="best edp")
    try:
        for ax in fig.axes:
            lines = [ln for ln in ax.get_lines() if not ln.get_label().startswith("_")]
            assert len(lines) == 3
            for ln in lines:
                y = np.asarray(ln.get_ydata(), dtype=float)
                y = y[np.isfinite(y)]
                assert len(y) > 10 and np.all(np.diff(y) <= 0), ln.get_label()
    finally:
        plt.close(fig)


def test_one_pass_runs_are_drawn_as_a_mark_on_a_readable_axis():
    # a one-pass agent (construct) makes one call a run: its median is a mark whose bars span
    # the runs' objectives, and an axis holding only such marks spans a factor of 4, not 0.001
    runs = [_history([16], [v]) for v in (4.0, 5.0, 9.0)]
    fig = plots._fitness_figure({"construct": runs}, ylabel="best edp")
    try:
        ax = fig.axes[0]
        (bars,) = ax.containers
        (x,), (y,) = bars.lines[0].get_data()
        assert (x, y) == (16, 5.0)
        lo, hi = ax.get_xlim()
        assert lo <= 8 and hi >= 32
        ys = np.concatenate([seg[:, 1] for seg in bars.lines[2][-1].get_segments()])
        assert ys.min() == 4.0 and ys.max() == 9.0
    finally:
        plt.close(fig)


def test_fitness_legend_names_the_agent_and_axes_carry_units():
    one = {"ga": [_history([10, 20, 40], [3.0, 2.0, 1.5])]}
    fig = plots._fitness_figure(one, ylabel="best edp")
    try:
        labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
        assert labels == ["ga"]
        assert [ax.get_ylabel() for ax in fig.axes] == ["best EDP (J·s)"] * 2
        assert fig.axes[1].get_xlabel() == "wall-clock time (s)"
        for ax in fig.axes:
            assert len(_labelled_ticks(ax, "y")) >= 3
    finally:
        plt.close(fig)
    three = {"sa": [_history([10, 20], [3.0, 2.0])] * 3}
    fig = plots._fitness_figure(three)
    try:
        assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["sa (3 seeds)"]
    finally:
        plt.close(fig)


def test_every_objective_has_a_labelled_unit():
    want = {"edp": "(J·s)", "energy": "(J)", "latency": "(s)", "throughput": "s per inference"}
    for obj in OBJECTIVES:
        assert plots.objective_label(obj) != obj, obj  # the table covers every objective
        if obj in want:
            assert want[obj] in plots.objective_label(obj)
    assert plots.QUANTITY_LABELS["throughput"] == "throughput (inferences/s)"


# --- readable log ticks --------------------------------------------------------------------------
@pytest.mark.parametrize(
    "lo, hi",
    [
        (0.105, 0.195),  # under a factor 2 and no 1-2-5 value inside: formerly no label at all
        (0.12, 0.28),  # formerly one label
        (0.0992, 0.1016),  # formerly labels reading alike
        (0.1, 0.1000001),
        (0.35, 0.8),
        (3e-7, 1.2e-5),
        (1, 2000),
        (1e-3, 1e5),
        (0.5, 2.5),
    ],
)
@pytest.mark.parametrize("axis", ["x", "y"])
def test_log_axes_carry_three_exact_distinct_labels(lo, hi, axis):
    fig, ax = plt.subplots(figsize=(5.5, 4))
    try:
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlim(lo, hi)
        ax.set_ylim(lo, hi)
        plots._plain_log_ticks(ax)
        ticks = _labelled_ticks(ax, axis)
        assert len(ticks) >= 3, ticks
        assert len({lab for _, lab in ticks}) == len(ticks), ticks  # none read alike
        for v, lab in ticks:
            assert "e" not in lab, lab  # no 1e-05
            assert _number(lab) == pytest.approx(v, rel=1e-9), (v, lab)
    finally:
        plt.close(fig)


# --- Pareto --------------------------------------------------------------------------------------
def _front():
    lat = [0.168, 0.1745, 0.186, 0.187, 0.188]
    en = [0.611, 0.605, 0.539, 0.535, 0.534]
    return [{"latency_s": a, "energy_j": b} for a, b in zip(lat, en)] + [
        {"latency_s": 0.19, "energy_j": 0.62}  # dominated: not drawn
    ]


def test_pareto_has_a_zoomed_panel_with_readable_ticks_and_units():
    base = {
        "searched (nsga2, seed 1)": (0.186, 0.5353),
        "standalone-ws": (0.1881, 0.5394),
        "standalone-os": (3.70, 2.38),
        "simba-os": (2.89, 2.46),
    }
    fig = plots._pareto_figure(_front(), base)
    try:
        full, zoom = fig.axes
        for ax in (full, zoom):
            assert ax.get_xlabel() == "latency (s)" and ax.get_ylabel() == "energy (J)"
            for axis in "xy":
                assert len(_labelled_ticks(ax, axis)) >= 3
        # the zoom panel: the front fills most of it; the full panel: a small corner
        x0, x1 = zoom.get_xlim()
        assert x0 < 0.168 and 0.188 < x1 and (0.188 - 0.168) / (x1 - x0) > 0.6
        fx0, fx1 = np.log(full.get_xlim())
        assert (np.log(0.188) - np.log(0.168)) / (fx1 - fx0) < 0.1
        drawn_full = {c.get_label() for c in full.collections}
        drawn_zoom = {c.get_label() for c in zoom.collections}
        assert set(base) | {"NSGA-II front"} <= drawn_full
        assert {"standalone-ws", "searched (nsga2, seed 1)"} <= drawn_zoom
        assert not {"standalone-os", "simba-os"} & drawn_zoom
        note = " ".join(t.get_text() for t in zoom.texts)
        assert "standalone-os" in note and "simba-os" in note
        front = next(c for c in full.collections if c.get_label() == "NSGA-II front")
        assert len(front.get_offsets()) == 5  # the dominated point left out
        legend = [t.get_text() for t in fig.legends[0].get_texts()]
        assert set(base) <= set(legend)
    finally:
        plt.close(fig)


def test_pareto_without_a_front_is_one_panel():
    fig = plots._pareto_figure([], {"a": (0.1, 1.0), "b": (0.2, 2.0)})
    try:
        assert len(fig.axes) == 1
    finally:
        plt.close(fig)


# --- Gantt and floorplan -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def problem():
    return Problem(scenario("sc1"), mcm("het-sides", 3, 3), objective="edp")


def test_gantt_draws_weight_loads_visibly(problem):
    a, b = (m.name for m in problem.workload.models)
    ev = [
        Event(0, a, 0, 0, 0, 0.0, 0.100),
        Event(0, b, 0, 3, 0, 0.0, 0.080),
        Event(1, b, 0, 3, -1, 0.180, 0.18002),  # 20 us loads in a 190 ms schedule
        Event(1, b, 1, 6, -1, 0.180, 0.18006),
        Event(1, b, 0, 3, 0, 0.18002, 0.185),
        Event(1, b, 1, 6, 0, 0.18006, 0.19),
    ]
    fig = plots._gantt_figure(Timeline(ev, [0.180, 0.19]), problem)
    try:
        assert len(fig.axes) == 2  # the whole schedule and a zoom on the loads
        fig.canvas.draw()
        for ax in fig.axes:
            hatched = [p for p in ax.patches if p.get_hatch()]
            assert len(hatched) == 2
            starts = [c for c in ax.collections if len(c.get_offsets()) == 2]
            assert len(starts) == 1  # a marker at each load's start
        zoom = fig.axes[1]
        for p in (p for p in zoom.patches if p.get_hatch()):
            assert p.get_window_extent().width >= 8  # pixels: visible
        assert fig.axes[0].get_xlabel() == "time (ms)"
        legend = " ".join(t.get_text() for t in fig.legends[0].get_texts())
        assert "weight load (2," in legend and "window end" in legend
    finally:
        plt.close(fig)


def test_gantt_without_loads_says_so(problem):
    s = BASELINES["standalone"](problem, "ws")
    from costmodel import simulate

    fig = plots._gantt_figure(simulate(problem, s), problem)
    try:
        assert len(fig.axes) == 1
        legend = " ".join(t.get_text() for t in fig.legends[0].get_texts())
        assert "none in this schedule" in legend
    finally:
        plt.close(fig)


@pytest.mark.parametrize("baseline", ["standalone", "simba"])
def test_floorplan_writes_full_model_names_inside_the_chiplets(problem, baseline):
    s = BASELINES[baseline](problem, "ws")
    r = problem.evaluate(s)
    fig = plots._floorplan_figure(problem, s, r)
    try:
        ax = fig.axes[0]
        fig.canvas.draw()
        text = "\n".join(t.get_text() for t in ax.texts)
        for m in problem.workload.models:
            assert re.search(rf"(^|\n){re.escape(m.name)} w\d", text), m.name
        boxes = [p for p in ax.patches if p.get_label().startswith("chiplet ")]
        labels = [t for t in ax.texts if t.get_text().startswith("c")]
        assert len(boxes) == len(labels) == problem.mcm.n_chiplets
        for box, t in zip(boxes, labels):
            bb, tb = box.get_window_extent(), t.get_window_extent()
            assert bb.x0 <= tb.x0 and tb.x1 <= bb.x1 and bb.y0 <= tb.y0 and tb.y1 <= bb.y1
    finally:
        plt.close(fig)


def test_bad_picture_suffix_is_a_value_error(tmp_path):
    with pytest.raises(ValueError, match=r"\.png, \.svg, \.pdf"):
        plots.fitness_curves({"ga": [_history([1, 2], [2.0, 1.0])]}, tmp_path / "x.jpg")
    assert not (tmp_path / "x.jpg").exists()


# --- the plot command ----------------------------------------------------------------------------
def _write_run(d, agent: str, hist: list[dict], objective: str = "edp") -> None:
    d.mkdir(parents=True)
    (d / "history.jsonl").write_text("\n".join(json.dumps(h) for h in hist) + "\n")
    res = {"algorithm": agent, "best": hist[-1]["best"], "problem": {"objective": objective}}
    (d / "result.json").write_text(json.dumps(res))


def test_plot_of_one_search_names_the_agent_and_overwrites_nothing(tmp_path, capsys, monkeypatch):
    run = tmp_path / "out"
    _write_run(run, "ga", _history([64, 128, 192], [0.2, 0.15, 0.1]))
    made = run / "fitness_curves.png"
    made.write_bytes(b"the run's own picture")
    seen = {}

    def spy(histories, path, title="", ylabel=""):
        seen.update(names=list(histories), ylabel=ylabel, path=path)
        return real(histories, path, title=title, ylabel=ylabel)

    real = plots.fitness_curves
    monkeypatch.setattr(plots, "fitness_curves", spy)
    assert main(["plot", str(run)]) == 0
    assert seen["names"] == ["ga"] and seen["ylabel"] == "best edp"
    new = run / "fitness_curves-plot.png"
    assert seen["path"] == new and new.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert made.read_bytes() == b"the run's own picture"
    assert main(["plot", str(run)]) == 0  # its own picture it may replace
    capsys.readouterr()
    for out in (made, run / "history.jsonl"):
        before = out.read_bytes()
        assert main(["plot", str(run), "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "plot --out" in err
        assert out.read_bytes() == before
    assert main(["plot", str(run), "--out", str(tmp_path / "x.gif")]) == 2
    assert main(["plot", str(run), "--out", str(tmp_path / "no" / "x.png")]) == 2
    assert not (tmp_path / "x.gif").exists()
    assert main(["plot", str(run), "--out", str(tmp_path / "c.svg")]) == 0
    assert (tmp_path / "c.svg").read_text().lstrip().startswith("<?xml")


def test_plot_of_a_benchmark_groups_seeds_by_agent(tmp_path, monkeypatch):
    for agent in ("ga", "sa"):
        for k in range(3):
            _write_run(tmp_path / agent / f"seed{k}", agent, _history([10, 20 + k], [2.0, 1.0 + k]))
    seen = {}
    monkeypatch.setattr(
        plots, "fitness_curves", lambda h, path, title="", ylabel="": seen.update(h) or path
    )
    assert main(["plot", str(tmp_path)]) == 0
    assert sorted(seen) == ["ga", "sa"] and all(len(v) == 3 for v in seen.values())


def test_plot_rejects_a_torn_history(tmp_path, capsys):
    d = tmp_path / "run"
    _write_run(d, "ga", _history([10], [1.0]))
    (d / "history.jsonl").write_text('{"evals": 10, "seconds": 0.1}\n')
    assert main(["plot", str(d)]) == 2
    err = capsys.readouterr().err
    assert "history.jsonl line 1" in err and "'best'" in err
    assert not list(d.glob("*.png"))
