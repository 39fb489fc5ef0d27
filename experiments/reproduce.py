"""Rerun a committed config and compare its tables with the published ones in ``docs/results``.

``python -m experiments.reproduce quickstart`` runs ``experiments/configs/quickstart.yaml`` into a
temporary folder and compares every CSV it writes with ``docs/results/quickstart``: every cell must
be equal as text (bit for bit: numbers are written with ``repr`` precision), except the columns
that measure wall-clock time. Exit 0 when they agree, 1 naming the first differing cell, 2 for bad
input. CI runs it on the quickstart (the README promises its numbers on a fresh install).
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
#: columns whose values are wall-clock measurements (they differ run to run by design)
TIMING = ("seconds", "time", "wall", "per_s", "evals_s", "rate")


def _timing(column: str) -> bool:
    return any(t in column for t in TIMING)


def compare_csv(published: Path, rerun: Path) -> str | None:
    """The first difference between two CSV files (timing columns aside), or ``None``."""
    with published.open(newline="") as f:
        a = list(csv.DictReader(f))
    with rerun.open(newline="") as f:
        b = list(csv.DictReader(f))
    if len(a) != len(b):
        return f"{published.name}: {len(a)} published rows, {len(b)} rerun rows"
    for i, (ra, rb) in enumerate(zip(a, b, strict=True)):
        if set(ra) != set(rb):
            return f"{published.name}: columns differ ({sorted(set(ra) ^ set(rb))})"
        for col in ra:
            if not _timing(col) and ra[col] != rb[col]:
                return f"{published.name} row {i + 2} column {col}: published {ra[col]}, rerun {rb[col]}"
    return None


def compare_folders(published: Path, rerun: Path) -> list[str]:
    """Differences between every CSV under ``published`` and its counterpart under ``rerun``."""
    problems = []
    files = sorted(published.rglob("*.csv"))
    if not files:
        return [f"no CSV files under {published}"]
    for f in files:
        other = rerun / f.relative_to(published)
        if not other.is_file():
            problems.append(f"{f.relative_to(published)}: missing from the rerun")
            continue
        diff = compare_csv(f, other)
        if diff:
            problems.append(f"{f.relative_to(published).parent / diff}")
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m experiments.reproduce", description=__doc__)
    p.add_argument("name", help="a config name under experiments/configs (e.g. quickstart)")
    p.add_argument("--keep", default=None, help="rerun into this folder instead of a temporary one")
    a = p.parse_args(argv)
    config = REPO / "experiments" / "configs" / f"{a.name}.yaml"
    published = REPO / "docs" / "results" / a.name
    if not config.is_file() or not published.is_dir():
        names = sorted(
            c.stem
            for c in (REPO / "experiments" / "configs").glob("*.yaml")
            if (REPO / "docs" / "results" / c.stem).is_dir()
        )
        print(
            f"error: no published config {a.name!r}; choices: {', '.join(names)}", file=sys.stderr
        )
        return 2
    from experiments.cli import main as cli

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(a.keep) if a.keep else Path(tmp) / a.name
        rc = cli(["run", str(config), "--out", str(out)])
        if rc != 0:
            return rc
        problems = compare_folders(published, out)
    for line in problems:
        print(f"differs: {line}", file=sys.stderr)
    if problems:
        return 1
    print(f"{a.name}: every table equals docs/results/{a.name} (timing columns aside)")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
