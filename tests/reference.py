"""Shared loader of the validation layer set (validation/layers.csv) for the reference-tool tests."""

from __future__ import annotations

import csv
from pathlib import Path

from costmodel import Layer

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"


def validation_layers() -> dict[str, tuple[Layer, int]]:
    """Layer and batch of every row of validation/layers.csv, by name."""
    lines = [
        ln
        for ln in (ROOT / "validation" / "layers.csv").read_text().splitlines()
        if ln.strip() and not ln.startswith("#")
    ]
    out = {}
    for r in csv.DictReader(lines):
        K, C, R, S, Yo, Xo, st, N = (
            int(r[k]) for k in ("K", "C", "R", "S", "Yo", "Xo", "stride", "N")
        )
        if r["kind"] == "gemm":  # written as a 1x1 conv: K_out = N, C = reduction K, Yo = M
            layer = Layer.gemm(r["name"], M=Yo, N=K, K=C)
        else:
            layer = Layer.conv(r["name"], K=K, C=C, R=R, S=S, Yo=Yo, Xo=Xo, stride=st)
        out[r["name"]] = (layer, N)
    return out


def reference_rows(name: str) -> list[dict]:
    with open(DATA / name) as f:
        return list(csv.DictReader(f))
