"""README.md's result tables, regenerated from the committed results, so the README never cites
a figure its results folder does not hold.

A block in README.md::

    <!-- table: docs/results/benchmark/summary.md#sc4-3x3 | cols=agent, median as median EDP -->

    | agent | median EDP |
    ...

    <!-- /table -->

is rewritten from its source: a table of a ``summary.md`` (``#Heading``: the section whose heading
starts with that text, else the whole file; ``@N``: its N-th table, default the first; cells
copied as written) or a CSV (every row, numbers formatted with ``fmt``, default ``.4g``; ``where=
column=value`` keeps matching rows). ``cols=`` picks and orders columns, ``name as Label``
renames one, and in a CSV ``name{,.0f}`` gives one its own format. Paths are relative to the
README's folder.

``python -m experiments.readme`` rewrites every block; ``--check`` rewrites nothing and exits 1
naming each block that disagrees with its source (CI runs it). A marker that cannot be resolved
(missing file, section, table or column) is an error: one line on stderr, exit 2.
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .report import md_table

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCK = re.compile(r"(<!-- table: (.+?) -->\n)(.*?)(<!-- /table -->)", re.S)
OPTIONS = ("cols", "where", "fmt")


@dataclass(frozen=True)
class TableSpec:
    """What a marker asks for: the source file, section and table number, and the options."""

    path: str
    section: str | None = None
    index: int = 1
    cols: tuple[tuple[str, str, str | None], ...] = ()  # (source column, label, CSV format)
    where: tuple[str, str] | None = None
    fmt: str = ".4g"


def parse_spec(text: str, where: str) -> TableSpec:
    """A marker's text (after ``table:``) as a :class:`TableSpec`; ``ValueError`` naming
    ``where`` and the allowed options."""
    source, *opts = [x.strip() for x in text.split(" | ")]
    index = 1
    m = re.fullmatch(r"(.*)@(\d+)", source)
    if m:
        source, index = m.group(1), int(m.group(2))
    path, _, section = source.partition("#")
    kw: dict = {}
    for opt in opts:
        key, eq, val = opt.partition("=")
        key = key.strip()
        if not eq or key not in OPTIONS:
            raise ValueError(f"{where}: bad option {opt!r}; allowed: {', '.join(OPTIONS)}")
        if key == "cols":
            pairs = []
            for c in re.split(r",(?![^{]*\})", val):  # not the commas of a {format}
                name, _, label = c.strip().partition(" as ")
                m = re.fullmatch(r"(.*?)\{(.*)\}", name.strip())
                name, fmt = (m.group(1), m.group(2)) if m else (name.strip(), None)
                pairs.append((name, (label or name).strip(), fmt))
            kw["cols"] = tuple(pairs)
        elif key == "where":
            col, eq2, value = val.partition("=")
            if not eq2:
                raise ValueError(f"{where}: where needs column=value, got {val!r}")
            kw["where"] = (col.strip(), value.strip())
        else:
            kw["fmt"] = val.strip()
    if index < 1:
        raise ValueError(f"{where}: table number must be 1 or more, got @{index}")
    return TableSpec(path.strip(), section.strip() or None, index, **kw)


def _section(lines: list[str], heading: str | None, where: str) -> list[str]:
    if heading is None:
        return lines
    for i, line in enumerate(lines):
        m = re.match(r"(#+)\s+(.*)", line)
        if m and m.group(2).strip().startswith(heading):
            level = len(m.group(1))
            end = next(
                (
                    j
                    for j in range(i + 1, len(lines))
                    if (h := re.match(r"(#+)\s", lines[j])) and len(h.group(1)) <= level
                ),
                len(lines),
            )
            return lines[i + 1 : end]
    raise ValueError(f"{where}: no section starting {heading!r}")


def _split_row(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def md_tables(lines: list[str]) -> list[tuple[list[str], list[list[str]]]]:
    """The Markdown tables in ``lines``: ``(header, rows of cells)`` each."""
    tables, block = [], []
    for line in [*lines, ""]:
        if line.startswith("|"):
            block.append(line)
        elif block:
            if len(block) >= 2 and set(block[1].replace("|", "").strip()) <= set("-: "):
                tables.append((_split_row(block[0]), [_split_row(r) for r in block[2:]]))
            block = []
    return tables


def _number(x: str):
    """A CSV cell as it was written: int, float, ``None`` (empty: not applicable) or text."""
    if x == "":
        return None
    for kind in (int, float):
        try:
            return kind(x)
        except ValueError:
            pass
    return x


def _pick(header: list[str], spec: TableSpec, where: str) -> list[tuple[int, str, str | None]]:
    """``(index in header, label, format)`` of each column to show."""
    if not spec.cols:
        return [(i, h, None) for i, h in enumerate(header)]
    out = []
    for name, label, fmt in spec.cols:
        if name not in header:
            raise ValueError(f"{where}: no column {name!r}; columns: {', '.join(header)}")
        out.append((header.index(name), label, fmt))
    return out


def _cell(x: str, fmt: str, where: str):
    """A CSV cell for :func:`md_table`; with its own ``fmt``, formatted here."""
    v = _number(x)
    if fmt is None or not isinstance(v, (int, float)):
        return v
    try:
        return format(v, fmt)
    except ValueError:
        raise ValueError(f"{where}: bad format {{{fmt}}} for {v!r}") from None


def render(spec: TableSpec, root: Path, where: str) -> str:
    """The Markdown table ``spec`` names, from the files under ``root``."""
    path = root / spec.path
    if not path.is_file():
        raise ValueError(f"{where}: source file not found: {spec.path}")
    if path.suffix == ".csv":
        if spec.section or spec.index != 1:
            raise ValueError(f"{where}: a CSV source takes no #section or @N")
        with path.open(newline="") as f:
            rows = list(csv.reader(f))
        header, body = rows[0], rows[1:]
        if spec.where:
            col, value = spec.where
            if col not in header:
                raise ValueError(f"{where}: no column {col!r}; columns: {', '.join(header)}")
            body = [r for r in body if r[header.index(col)] == value]
        cols = _pick(header, spec, where)
        recs = [{label: _cell(r[i], fmt, where) for i, label, fmt in cols} for r in body]
        return md_table(recs, spec.fmt)
    if spec.where or spec.fmt != ".4g":
        raise ValueError(f"{where}: where= and fmt= apply to CSV sources only")
    tables = md_tables(_section(path.read_text().splitlines(), spec.section, where))
    if len(tables) < spec.index:
        raise ValueError(f"{where}: {len(tables)} tables there, no table @{spec.index}")
    header, body = tables[spec.index - 1]
    cols = _pick(header, spec, where)
    if any(fmt for *_, fmt in cols):
        raise ValueError(f"{where}: a {{format}} applies to CSV sources only")
    out = ["| " + " | ".join(label for _, label, _ in cols) + " |", "|" + "---|" * len(cols)]
    out += ["| " + " | ".join(r[i] if i < len(r) else "" for i, *_ in cols) + " |" for r in body]
    return "\n".join(out)


def regenerate(text: str, root: Path, name: str = "README.md") -> tuple[str, list[str]]:
    """``text`` with every table block rewritten from its source, and a line per block that
    changed (``name:LINE: table SOURCE``)."""
    stale: list[str] = []

    def block(m: re.Match) -> str:
        line = text.count("\n", 0, m.start()) + 1
        where = f"{name}:{line}"
        new = "\n" + render(parse_spec(m.group(2), where), root, where) + "\n\n"
        if m.group(3) != new:
            stale.append(f"{where}: table {m.group(2)}")
        return m.group(1) + new + m.group(4)

    return BLOCK.sub(block, text), stale


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m experiments.readme",
        description="Regenerate README.md's result tables from the committed results.",
    )
    p.add_argument("--check", action="store_true", help="change nothing; exit 1 if any is stale")
    p.add_argument("--readme", default=str(README), help="the README (default: the repo's)")
    a = p.parse_args(argv)
    path = Path(a.readme)
    try:
        if not path.is_file():
            raise ValueError(f"README not found: {path}")
        text = path.read_text()
        new, stale = regenerate(text, path.parent, path.name)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if a.check:
        for s in stale:
            print(f"stale: {s}; run python -m experiments.readme", file=sys.stderr)
        return 1 if stale else 0
    if new != text:
        from costmodel.files import write_text_atomic

        write_text_atomic(path, new)
    print(f"{path}: {len(BLOCK.findall(text))} table blocks, {len(stale)} rewritten")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
