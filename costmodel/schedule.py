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
            Path(path).write_text(text)
        return text

    @classmethod
    def from_dict(cls, d: dict) -> Schedule:
        if not isinstance(d, dict) or not {"window", "chiplet", "micro_batch"} <= set(d):
            raise ValueError("schedule JSON needs the keys window, chiplet and micro_batch")
        try:
            mb = [{int(k): int(v) for k, v in x.items()} for x in d["micro_batch"]]
            return cls(
                [list(map(int, w)) for w in d["window"]],
                [list(map(int, c)) for c in d["chiplet"]],
                mb,
            )
        except (TypeError, ValueError, AttributeError) as exc:
            raise ValueError(f"schedule JSON has a malformed field: {exc}") from None

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
