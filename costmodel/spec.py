"""Problems as data: an exact description to hash, and a readable spec to rebuild them from.

:func:`describe_problem` lists everything that decides a schedule's figures (every layer, every
chiplet class, the mesh, the module's constants, objective, windows, dispatch) and
:func:`fingerprint` hashes it. :func:`problem_spec` gives the compact form a ``result.json``
carries: the workload as a scenario (or as full model definitions), the MCM as a pattern (or a
grid) in the YAML form of :func:`costmodel.config.load_mcm`, the objective and ``max_windows``,
each checked to rebuild the very same problem; :func:`problem_from_spec` rebuilds it and
:func:`check_same_problem` names what differs between a recorded problem and another one.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import weakref
from collections.abc import Mapping
from typing import Any

from .config import load_mcm, load_workload, model_to_dict
from .hardware import MCM, PATTERNS, ChipletClass, pe_shape
from .problem import Problem
from .targets import TARGET_OBJECTIVES
from .workload import Layer, Workload
from .zoo import SCENARIOS

_MCM_CONSTANTS: tuple[str, ...] = ("nop_bw", "nop_hop_s", "nop_pj_per_bit", "dram_bw")
_MCM_CONSTANTS += ("dram_latency_s", "dram_pj_per_bit")
_CHIPLET_CONSTANTS = tuple(
    f.name
    for f in dataclasses.fields(ChipletClass)
    if f.name not in ("dataflow", "pe_rows", "pe_cols", "name")
)


_LAYER_FIELDS = tuple(f.name for f in dataclasses.fields(Layer) if f.name != "skips")
_FINGERPRINTS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def describe_workload(w: Workload) -> dict:
    """Every model's name and batch and every layer's fields (not the workload's display name)."""
    return {
        "models": [
            {
                "name": m.name,
                "batch": int(m.batch),
                "layers": [
                    {**{f: getattr(x, f) for f in _LAYER_FIELDS}, "skips": list(x.skips)}
                    for x in m.layers
                ],
            }
            for m in w.models
        ]
    }


def describe_mcm(m: MCM) -> dict:
    """The mesh, placement, every chiplet class's fields and the module's constants (not the
    display names)."""
    classes = []
    for c in m.classes:
        d = dataclasses.asdict(c)
        d.pop("name")
        classes.append(d)
    return {
        "rows": m.rows,
        "cols": m.cols,
        "placement": list(m.placement),
        "classes": classes,
        **{k: getattr(m, k) for k in _MCM_CONSTANTS},
    }


def describe_problem(p: Problem) -> dict:
    """Everything that decides the figures of ``p``'s schedules, as plain JSON data."""
    obj = p.objective
    out = {
        "workload": describe_workload(p.workload),
        "mcm": describe_mcm(p.mcm),
        "objective": obj if isinstance(obj, str) else getattr(obj, "__qualname__", repr(obj)),
        "max_windows": int(p.max_windows),
        "dispatch": p.dispatch,
    }
    if obj in TARGET_OBJECTIVES:  # targets decide only these objectives' values
        out["targets"] = [t.to_dict() if t else None for t in p.workload.targets]
    return out


def _canonical(x: Any) -> Any:
    """Integral floats as ints (``64.0`` and ``64`` are the same bandwidth), tuples as lists."""
    if isinstance(x, Mapping):
        return {str(k): _canonical(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_canonical(v) for v in x]
    if isinstance(x, float) and x.is_integer():
        return int(x)
    return x


def fingerprint(data: Any) -> str:
    """SHA-256 of ``data`` as canonical JSON (sorted keys, integral floats as ints)."""
    text = json.dumps(_canonical(data), sort_keys=True, separators=(",", ":"), default=repr)
    return hashlib.sha256(text.encode()).hexdigest()


def problem_fingerprint(p: Problem) -> str:
    """:func:`fingerprint` of :func:`describe_problem` (computed once per problem object)."""
    if p not in _FINGERPRINTS:
        _FINGERPRINTS[p] = fingerprint(describe_problem(p))
    return _FINGERPRINTS[p]


def _seq_lens(w: Workload) -> list[int]:
    """Sequence lengths a scenario workload may have been built with (128 first)."""
    out = [128]
    for m in w.models:
        for x in m.layers:
            if x.kind == "gemm" and x.Yo not in out:
                out.append(x.Yo)
    return out[:8]


def workload_spec(w: Workload) -> dict | None:
    """The scenario ``w`` is (with its ``seq_len``), else its models as full definitions;
    ``None`` if neither rebuilds it exactly."""
    target = describe_workload(w)
    names = [m.name for m in w.models]
    cands: list[dict] = []
    if w.name in SCENARIOS:
        cands += [{"scenario": w.name, "seq_len": s} for s in _seq_lens(w)]
    full: dict[str, Any] = {"models": [model_to_dict(m) for m in w.models]}
    if w.name != "+".join(names):
        full["name"] = w.name
    cands.append(full)
    for c in cands:
        try:
            rebuilt = load_workload(c)
            if describe_workload(rebuilt) != target:
                continue
            if rebuilt.targets != w.targets:
                if any(t is None and t0 is not None for t, t0 in zip(w.targets, rebuilt.targets)):
                    continue  # a default target cannot be taken away in the YAML form
                c = {
                    **c,
                    "targets": {
                        n: t.to_dict()
                        for n, t, t0 in zip(names, w.targets, rebuilt.targets)
                        if t is not None and t != t0
                    },
                }
                if load_workload(c).targets != w.targets:
                    continue
            return c
        except ValueError:
            continue
    return None


def mcm_spec(m: MCM) -> dict | None:
    """``m`` as a pattern (``pattern``, ``rows``, ``cols``, ``pes``, ``dataflows``) or a grid of
    letters, with the chiplet and module constants that differ from the defaults, in the YAML form
    of :func:`costmodel.config.load_mcm`; ``None`` if neither rebuilds it exactly."""
    c0 = m.classes[0]
    common: dict[str, Any] = {}
    if all((c.pe_rows, c.pe_cols) == pe_shape(c.dataflow, c0.pes) for c in m.classes):
        common["pes"] = c0.pes
    else:
        common.update(pe_rows=c0.pe_rows, pe_cols=c0.pe_cols)
    default_chiplet = ChipletClass()
    chiplet = {
        k: getattr(c0, k)
        for k in _CHIPLET_CONSTANTS
        if getattr(c0, k) != getattr(default_chiplet, k)
    }
    if chiplet:
        common["chiplet"] = chiplet
    defaults = {f.name: f.default for f in dataclasses.fields(MCM)}
    common.update({k: getattr(m, k) for k in _MCM_CONSTANTS if getattr(m, k) != defaults[k]})
    cands: list[dict] = []
    hit = re.fullmatch(r"(.+)-(\d+)x(\d+)", m.name)
    if hit and hit.group(1) in PATTERNS[:-1]:
        pattern = hit.group(1)
        dfs = [c.dataflow for c in m.classes]
        pair = dfs if len(dfs) == 2 else [dfs[0], "os"] if pattern == "homo-ws" else ["ws", dfs[0]]
        spec: dict[str, Any] = {"pattern": pattern, "rows": m.rows, "cols": m.cols, **common}
        if pair != ["ws", "os"]:
            spec["dataflows"] = pair
        cands.append(spec)
    cands.append({"grid": m.grid_letters(), **common})
    target = describe_mcm(m)
    for c in cands:
        try:
            if describe_mcm(load_mcm(c)) == target:
                return c
        except (ValueError, KeyError):
            continue
    return None


def problem_spec(p: Problem) -> dict:
    """What a ``result.json`` records of its problem: ``workload`` and ``mcm`` specs (``None``
    where they cannot be rebuilt), ``objective``, ``max_windows``, ``dispatch``, the models
    (name, layers, batch), the ``mesh`` and the ``fingerprint`` of :func:`describe_problem`."""
    obj = p.objective
    return {
        "workload": workload_spec(p.workload),
        "mcm": mcm_spec(p.mcm),
        "objective": obj if isinstance(obj, str) else None,
        "max_windows": int(p.max_windows),
        "dispatch": p.dispatch,
        "models": [
            {"name": m.name, "layers": len(m), "batch": int(m.batch)} for m in p.workload.models
        ],
        "mesh": [p.mcm.rows, p.mcm.cols],
        "fingerprint": problem_fingerprint(p),
    }


def problem_from_spec(spec: Mapping, where: str = "result.json") -> Problem:
    """Rebuild the problem a :func:`problem_spec` describes; ``ValueError`` naming the part that
    cannot be rebuilt."""
    if not isinstance(spec, Mapping):
        raise ValueError(f"{where}: problem must be a mapping, got {type(spec).__name__}")
    for part in ("workload", "mcm"):
        if spec.get(part) is None:
            raise ValueError(f"{where}: the problem's {part} cannot be rebuilt from its record")
    return Problem(
        load_workload(spec["workload"], where),
        load_mcm(spec["mcm"]),
        objective=spec.get("objective") or "edp",
        max_windows=spec.get("max_windows"),
        dispatch=spec.get("dispatch", "fixed-order"),
    )


def check_same_problem(recorded: Mapping, p: Problem, where: str = "result.json") -> None:
    """Raise ``ValueError`` naming the first difference in models (names, layer counts,
    batches) or mesh size between a recorded problem (:func:`problem_spec`) and ``p``."""
    head = f"the schedule is for another problem: {where} has"
    try:
        models = [(str(m["name"]), int(m["layers"]), int(m["batch"])) for m in recorded["models"]]
        mesh = tuple(int(x) for x in recorded["mesh"])
    except (KeyError, TypeError, ValueError):
        raise ValueError(f"{where}: its problem record lacks models or mesh") from None
    here = [(m.name, len(m), int(m.batch)) for m in p.workload.models]
    if len(models) != len(here):
        raise ValueError(
            f"{head} {len(models)} models ({', '.join(m[0] for m in models)}), this problem "
            f"{len(here)} ({', '.join(m[0] for m in here)})"
        )
    for i, ((n0, l0, b0), (n1, l1, b1)) in enumerate(zip(models, here)):
        if n0 != n1:
            raise ValueError(f"{head} model {i} {n0!r}, this problem {n1!r}")
        if l0 != l1:
            raise ValueError(f"{head} {l0} layers in model {n0!r}, this problem {l1}")
        if b0 != b1:
            raise ValueError(f"{head} batch {b0} for model {n0!r}, this problem {b1}")
    if mesh != (p.mcm.rows, p.mcm.cols):
        raise ValueError(
            f"{head} a {mesh[0]}x{mesh[1]} mesh, this problem {p.mcm.rows}x{p.mcm.cols}"
        )
