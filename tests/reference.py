"""Shared loader of the validation layer sets and reference-tool outputs for the reference tests."""

from __future__ import annotations

import csv
from pathlib import Path

from costmodel import Layer

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"


LAYER_LISTS = (
    ROOT / "validation" / "layers.csv",
    ROOT / "validation" / "maestro" / "layers_extra.csv",
)


def validation_layers() -> dict[str, tuple[Layer, int]]:
    """Layer and batch of every row of validation/layers.csv and the MAESTRO-only
    validation/maestro/layers_extra.csv, by name."""
    out = {}
    for r in (r for path in LAYER_LISTS for r in _rows(path)):
        K, C, R, S, Yo, Xo, st, N = (
            int(r[k]) for k in ("K", "C", "R", "S", "Yo", "Xo", "stride", "N")
        )
        if r["kind"] == "gemm":  # written as a 1x1 conv: K_out = N, C = reduction K, Yo = M
            layer = Layer.gemm(r["name"], M=Yo, N=K, K=C)
        else:
            layer = Layer.conv(r["name"], K=K, C=C, R=R, S=S, Yo=Yo, Xo=Xo, stride=st)
        out[r["name"]] = (layer, N)
    return out


def _rows(path: Path) -> list[dict]:
    lines = [ln for ln in path.read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    return list(csv.DictReader(lines))


def reference_rows(name: str) -> list[dict]:
    with open(DATA / name) as f:
        return list(csv.DictReader(f))
