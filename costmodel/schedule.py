"""Schedules: per layer a window and a chiplet, per model and window a micro-batch size.

A *stage* is a maximal run of consecutive layers of one model, in one window, on one chiplet; the
stage boundaries are the pipeline cut points. Windows are sequential barriers between which the
chiplets are regrouped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .files import write_text_atomic
from .stages import stage_bounds


@dataclass(frozen=True)
class Stage:
    """One pipeline stage: layers ``[start, stop)`` of model ``model`` (model-local indices)."""

    model: int
    window: int
    chiplet: int
    start: int
    stop: int


@dataclass
class Schedule:
    """Per model ``m``: ``window[m][i]`` and ``chiplet[m][i]`` of its layer ``i``, and
    ``micro_batch[m][w]`` the micro-batch size of model ``m`` in window ``w``."""

    window: list[list[int]]
    chiplet: list[list[int]]
    micro_batch: list[dict[int, int]] = field(default_factory=list)

    def stages(self) -> list[Stage]:
        """Stages in model order, then chain order."""
        out = []
        for m, (ws, cs) in enumerate(zip(self.window, self.chiplet)):
            first = np.zeros(len(ws), dtype=bool)
            first[:1] = True
            for a, b in stage_bounds(cs, ws, first):
                out.append(Stage(m, int(ws[a]), int(cs[a]), a, b))
        return out

    def windows_of(self, m: int) -> list[int]:
        return sorted(set(self.window[m]))

    # --- JSON -------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {
            "window": [list(map(int, w)) for w in self.window],
            "chiplet": [list(map(int, c)) for c in self.chiplet],
            "micro_batch": [{str(k): int(v) for k, v in mb.items()} for mb in self.micro_batch],
        }

    def to_json(self, path: str | Path | None = None) -> str:
        text = json.dumps(self.to_dict())
        if path is not None:
            write_text_atomic(path, text)
        return text

    @classmethod
    def from_dict(cls, d: dict) -> Schedule:
        """A schedule from :meth:`to_dict`'s form; ``ValueError`` naming the field that is
        missing or not an integer (``1.5``, ``"a"`` and ``true`` are refused, never truncated)."""
        if not isinstance(d, dict) or not {"window", "chiplet", "micro_batch"} <= set(d):
            raise ValueError("schedule JSON needs the keys window, chiplet and micro_batch")
        window = _int_rows("window", d["window"])
        chiplet = _int_rows("chiplet", d["chiplet"])
        if not isinstance(d["micro_batch"], list):
            raise ValueError("schedule micro_batch must be a list (one mapping per model)")
        mb = []
        for m, x in enumerate(d["micro_batch"]):
            if not isinstance(x, dict):
                raise ValueError(f"schedule micro_batch[{m}] must map windows to micro-batch sizes")
            row = {}
            for k, v in x.items():
                w = _as_int(f"micro_batch[{m}] window key", int(k) if _digits(k) else k)
                row[w] = _as_int(f"micro_batch[{m}][{k!r}]", v)
            mb.append(row)
        return cls(window, chiplet, mb)

    @classmethod
    def from_json(cls, text_or_path: str | Path) -> Schedule:
        p = Path(str(text_or_path))
        text = (
            p.read_text() if not str(text_or_path).lstrip().startswith("{") else str(text_or_path)
        )
        try:
            return cls.from_dict(json.loads(text))
        except json.JSONDecodeError as exc:
            raise ValueError(f"schedule JSON is not valid JSON: {exc}") from None


def _digits(k: object) -> bool:
    return isinstance(k, str) and k.strip().lstrip("-").isdigit()


def _as_int(field: str, v: object) -> int:
    """``v`` as an int, or ``ValueError`` naming ``field`` (no bools, floats or strings)."""
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
        raise ValueError(f"schedule {field} must be an integer, got {v!r}")
    return int(v)


def _int_rows(name: str, rows: object) -> list[list[int]]:
    """A list (per model) of lists of ints, or ``ValueError`` naming the first bad entry."""
    if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
        raise ValueError(f"schedule {name} must be a list (per model) of lists of integers")
    return [[_as_int(f"{name}[{m}][{i}]", v) for i, v in enumerate(r)] for m, r in enumerate(rows)]
