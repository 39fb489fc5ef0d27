"""Per-model latency targets and the objectives that use them (docs/evaluation.md, Targets).

A model's *target* is a deadline for its request: its whole batch must be done within
``deadline_s`` seconds of the schedule's start (the model's latency, docs/evaluation.md). The
canonical unit is seconds per request; a rate ``target_fps`` converts to ``deadline_s = batch /
target_fps`` (SCAR's AR/VR batches are one second of frames, so ``target_fps = batch`` is a 1 s
deadline). ``priority`` (a positive integer, default 1) weights the model in the count of met
targets and in the total violation.

The target objectives turn the constraint "every model meets its target" into one scalar fitness
(minimized) that every agent gets through the evaluator, feasibility first:

* ``energy@targets`` / ``edp@targets``: ``x / (x + x0)`` (in ``[0, 1)``, increasing in the energy
  or EDP ``x``) when every target is met, else ``1 + V`` with ``V`` the priority-weighted total
  normalized violation ``sum_m p_m max(0, latency_m / deadline_m - 1)``. Every feasible schedule
  comes before every infeasible one; feasible ones are ordered by ``x``, infeasible ones by ``V``.
* ``targets-met``: ``(sum of the priorities of the missed targets) + t`` with ``t = V / (1 + V)``
  while a target is missed and ``t = E / (E + E0)`` when every one is met (``t`` in ``[0, 1)``):
  the priority-weighted number of met targets first (priorities are integers, so one more met
  target outweighs any tie-break); among schedules missing the same targets' weight, the smaller
  total overshoot ``V`` (a search needs that gradient to meet one more: ranked by energy instead,
  GA searches for ``targets-met`` met fewer targets than those for ``energy@targets``); with
  every target met, the least energy.

``x0``, ``E0`` are per-problem scales (:meth:`costmodel.problem.Problem.target_scales`); any
positive constant keeps the order, they only keep the figures readable.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

#: A target counts as met when ``latency <= deadline * (1 + TARGET_RTOL)``: the four evaluators
#: agree to 1e-9 relative, so a schedule on the boundary is judged the same by all of them.
TARGET_RTOL = 1e-9

#: Objectives that need targets (costmodel.problem.OBJECTIVES lists them too).
TARGET_OBJECTIVES = ("energy@targets", "edp@targets", "targets-met")

_TARGET_KEYS = ("target_fps", "deadline_s", "priority")


def _positive_number(field: str, v: object) -> float:
    if (
        isinstance(v, bool)
        or not isinstance(v, (int, float, np.integer, np.floating))
        or not math.isfinite(float(v))
        or not float(v) > 0
    ):
        raise ValueError(f"{field} must be a positive number, got {v!r}")
    return float(v)


@dataclass(frozen=True)
class Target:
    """A model's latency target: its batch done within ``deadline_s`` seconds, weighted by
    ``priority`` (a positive integer)."""

    deadline_s: float
    priority: int = 1

    def __post_init__(self) -> None:
        object.__setattr__(self, "deadline_s", _positive_number("deadline_s", self.deadline_s))
        p = self.priority
        if isinstance(p, bool) or not isinstance(p, (int, np.integer)) or p <= 0:
            raise ValueError(f"priority must be a positive integer, got {p!r}")
        object.__setattr__(self, "priority", int(p))

    def to_dict(self) -> dict:
        return {"deadline_s": self.deadline_s, "priority": self.priority}


def target_from_dict(d: object, batch: int, where: str) -> Target:
    """A :class:`Target` from ``{target_fps | deadline_s, priority}`` (``batch``: the model's,
    to convert a rate); ``ValueError`` naming ``where`` and the field."""
    if not isinstance(d, Mapping):
        raise ValueError(
            f"{where} must be a mapping with target_fps or deadline_s (and optional priority), "
            f"got {d!r}"
        )
    unknown = sorted(set(d) - set(_TARGET_KEYS))
    if unknown:
        raise ValueError(f"{where}: unknown key {unknown[0]!r}; allowed: {', '.join(_TARGET_KEYS)}")
    if ("target_fps" in d) == ("deadline_s" in d):
        raise ValueError(f"{where}: give exactly one of target_fps or deadline_s")
    try:
        if "target_fps" in d:
            deadline = batch / _positive_number("target_fps", d["target_fps"])
        else:
            deadline = _positive_number("deadline_s", d["deadline_s"])
        return Target(deadline, d.get("priority", 1))
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None


def resolve_targets(
    targets: Mapping[str, Target] | Sequence[Target | None] | None,
    names: Sequence[str],
    where: str = "targets",
) -> tuple[Target | None, ...]:
    """Targets aligned with the models ``names``: from a mapping model name -> target (a name
    that is not a model is refused) or a sequence with one entry (or ``None``) per model."""
    if targets is None:
        return (None,) * len(names)
    if isinstance(targets, Mapping):
        for k, t in targets.items():
            if k not in names:
                raise ValueError(
                    f"{where}: no model named {k!r} in the workload; models: {', '.join(names)}"
                )
            if not isinstance(t, Target):
                raise ValueError(f"{where}[{k!r}] must be a Target, got {type(t).__name__}")
        return tuple(targets.get(n) for n in names)
    out = tuple(targets)
    if len(out) != len(names):
        raise ValueError(f"{where} has {len(out)} entries, the workload has {len(names)} models")
    for i, entry in enumerate(out):
        if entry is not None and not isinstance(entry, Target):
            raise ValueError(f"{where}[{i}] must be a Target or None, got {type(entry).__name__}")
    return out


@dataclass(frozen=True)
class TargetArrays:
    """The targets of a workload as arrays over its ``M`` models (no target: deadline ``inf``,
    priority 0)."""

    deadline_s: np.ndarray  # [M]
    priority: np.ndarray  # [M] float (0 where the model has no target)

    @classmethod
    def of(cls, targets: Sequence[Target | None]) -> TargetArrays:
        d = np.array([t.deadline_s if t else np.inf for t in targets], dtype=np.float64)
        p = np.array([t.priority if t else 0 for t in targets], dtype=np.float64)
        return cls(d, p)

    @property
    def any(self) -> bool:
        return bool(np.any(self.priority > 0))

    def ratio(self, model_latency: np.ndarray) -> np.ndarray:
        """``latency / deadline`` ``[P, M]`` (0 where a model has no target)."""
        lat = np.atleast_2d(np.asarray(model_latency, dtype=np.float64))
        return np.where(self.priority > 0, lat / self.deadline_s, 0.0)

    def met(self, model_latency: np.ndarray) -> np.ndarray:
        """Whether each model meets its target ``[P, M]`` (True where it has none)."""
        return self.ratio(model_latency) <= 1.0 + TARGET_RTOL

    def violation(self, model_latency: np.ndarray) -> np.ndarray:
        """Priority-weighted total normalized violation ``[P]``: ``sum_m p_m (lat/deadline - 1)``
        over the missed targets (0: every target met)."""
        r = self.ratio(model_latency)
        over = np.where(r > 1.0 + TARGET_RTOL, r - 1.0, 0.0)
        return (over * self.priority).sum(axis=1)

    def missed_weight(self, model_latency: np.ndarray) -> np.ndarray:
        """Sum of the priorities of the missed targets ``[P]``."""
        return np.where(self.met(model_latency), 0.0, self.priority).sum(axis=1)


def feasibility_first(x: np.ndarray, x0: float, violation: np.ndarray) -> np.ndarray:
    """``x / (x + x0)`` where ``violation == 0``, else ``1 + violation``: every feasible value
    below every infeasible one (docs/evaluation.md)."""
    x = np.asarray(x, dtype=np.float64)
    return np.where(violation > 0, 1.0 + violation, x / (x + x0))


def target_report(names: Sequence[str], targets: Sequence[Target | None], latency) -> list[dict]:
    """Per model: latency, deadline, met, slack (``deadline - latency``, negative when missed)
    and priority; JSON-ready (models without a target report only their latency)."""
    out = []
    for n, t, lat in zip(names, targets, latency):
        row: dict = {"model": n, "latency_s": float(lat)}
        if t is not None:
            row.update(
                deadline_s=t.deadline_s,
                priority=t.priority,
                met=bool(float(lat) <= t.deadline_s * (1 + TARGET_RTOL)),
                slack_s=t.deadline_s - float(lat),
            )
        out.append(row)
    return out


#: Weight of the violation in the RL environments' penalized reward, ``x * (1 + w V)``
#: (:meth:`costmodel.problem.Problem.penalized_objective`): missing targets by 10% in total
#: costs as much as doubling the energy (or EDP).
PENALTY_WEIGHT = 10.0
