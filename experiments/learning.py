"""Learning curves of the RL agents: ``learning.jsonl`` (written by ``search.rl.LearningLog``
beside ``history.jsonl``) as one picture, per run: the episodes' objective per update (mean,
and the best episode of the update), the best so far, and the policy's entropy, against
schedule evaluations. Why: a search's fitness curve shows what was found, this shows whether
the policy itself is improving or has collapsed (entropy near 0 with a poor objective).

``python -m experiments.learning RUN_DIR [RUN_DIR ...] -o learning.png [--objective edp]``
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from .plots import _plain_log_ticks, _save, check_picture_path, objective_label, plt

LEARNING_FILE = "learning.jsonl"


def read_learning(run_dir: str | Path) -> list[dict]:
    """The records of ``RUN_DIR/learning.jsonl``; ``ValueError`` naming the file when it is
    missing or a line is not a JSON object."""
    path = Path(run_dir) / LEARNING_FILE
    if not path.is_file():
        raise ValueError(f"{path}: no such file (runs of the RL agents with a log_dir write it)")
    return read_records(path, "evals", "learning")


def read_records(path: Path, field: str, kind: str) -> list[dict]:
    """The JSON objects of a JSONL file, each needing ``field``; ``ValueError`` naming the file
    and line otherwise (``kind`` names the record in the message)."""
    out = []
    for i, line in enumerate(path.read_text().splitlines(), 1):
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as err:
            raise ValueError(f"{path} line {i}: not JSON ({err.msg})") from err
        if not isinstance(rec, dict) or field not in rec:
            raise ValueError(f"{path} line {i}: a {kind} record needs the field {field!r}")
        out.append(rec)
    return out


def _num(records: list[dict], key: str) -> np.ndarray:
    return np.array([np.nan if r.get(key) is None else float(r[key]) for r in records])


def learning_figure(runs: dict[str, list[dict]], objective: str = "objective", title: str = ""):
    """Left: objective per update (mean: line; best episode: dots) and best so far (dashed);
    right: policy entropy (nats). x: evaluations."""
    fig, (ax, ax_h) = plt.subplots(1, 2, figsize=(11, 4.2))
    positive = True
    for name, recs in runs.items():
        x = _num(recs, "evals")
        mean, low, best = (_num(recs, k) for k in ("objective_mean", "objective_min", "best"))
        ok = np.isfinite(mean)  # updates without a finished episode have no objective
        (line,) = ax.plot(x[ok], mean[ok], label=f"{name}: episode mean")
        ax.plot(x, low, ".", color=line.get_color(), ms=3, label=f"{name}: best episode")
        ax.step(x, best, "--", where="post", color=line.get_color(), label=f"{name}: best so far")
        h = _num(recs, "entropy")
        ax_h.plot(x[np.isfinite(h)], h[np.isfinite(h)], color=line.get_color(), label=name)
        y = np.concatenate([mean, low, best])
        positive &= bool(np.all(y[np.isfinite(y)] > 0))
    if positive:
        ax.set_yscale("log")
        _plain_log_ticks(ax)
    ax.set_xlabel("schedule evaluations")
    ax.set_ylabel(objective_label(objective))
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    ax_h.set_xlabel("schedule evaluations")
    ax_h.set_ylabel("policy entropy (nats, mean over steps)")
    ax_h.grid(True, alpha=0.3)
    ax_h.legend(fontsize=7)
    fig.suptitle(title or "RL learning curves")
    return fig


def learning_curves(
    run_dirs: list[str | Path], path: str | Path, objective: str = "objective", title: str = ""
) -> Path:
    """Write :func:`learning_figure` of the runs in ``run_dirs`` (labelled by folder name)."""
    check_picture_path(path)
    runs = {Path(d).name or str(d): read_learning(d) for d in run_dirs}
    return _save(learning_figure(runs, objective, title), path)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run_dirs", nargs="+", help="folders holding learning.jsonl")
    ap.add_argument("-o", "--output", default="learning.png")
    ap.add_argument("--objective", default="objective", help="y-axis label, e.g. edp")
    ap.add_argument("--title", default="")
    args = ap.parse_args(argv)
    try:
        out = learning_curves(args.run_dirs, args.output, args.objective, args.title)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
