"""Models and MCMs from YAML (or plain dicts), validated key by key with clear errors.

A model::

    name: tiny
    batch: 4
    layers:
      - {name: conv1, kind: conv, K: 64, C: 3, R: 7, Yo: 112, stride: 2}
      - {name: pool, kind: eltwise, C: 64, Yo: 56, R: 3, stride: 2}
      - {name: fc, kind: gemm, M: 1, N: 1000, K: 2048}

An MCM (``pattern`` + ``rows``/``cols``, or ``grid`` rows of letters W=ws O=os T=systolic-ws
S=systolic-os)::

    grid: [WW, WO]
    pes: 4096
    chiplet: {noc_bw: 64, l2_bytes: 10485760}
    nop_bw: 100.0e9
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from .hardware import MCM, ChipletClass, mcm
from .targets import target_from_dict
from .workload import Layer, Model, Workload
from .zoo import MODELS, SCENARIOS, build_model, scenario

_LAYER_KEYS = {
    "conv": (
        {"name", "kind", "K", "C", "Yo"},
        {"R", "S", "Xo", "stride", "groups", "vec_ops", "skips", "weights"},
    ),
    "gemm": ({"name", "kind", "M", "N", "K"}, {"weights", "heads", "vec_ops", "skips"}),
    "eltwise": ({"name", "kind", "C", "Yo"}, {"Xo", "R", "stride", "vec_ops", "skips"}),
}
_INT_KEYS = {
    "K",
    "C",
    "Yo",
    "R",
    "S",
    "Xo",
    "stride",
    "groups",
    "vec_ops",
    "M",
    "N",
    "heads",
    "batch",
    "rows",
    "cols",
    "pes",
    "pe_rows",
    "pe_cols",
}


def check_keys(where: str, d: Any, required: set[str], optional: set[str]) -> None:
    """Reject a mapping with unknown or missing keys, or ints of the wrong type."""
    if not isinstance(d, Mapping):
        raise ValueError(f"{where} must be a mapping, got {type(d).__name__}")
    allowed = required | optional
    unknown = sorted(set(d) - allowed)
    if unknown:
        raise ValueError(
            f"{where}: unknown key {unknown[0]!r}; allowed: {', '.join(sorted(allowed))}"
        )
    missing = sorted(required - set(d))
    if missing:
        raise ValueError(
            f"{where}: missing key {missing[0]!r}; required: {', '.join(sorted(required))}"
        )
    for key, v in d.items():
        if key in _INT_KEYS and (isinstance(v, bool) or not isinstance(v, int)):
            raise ValueError(f"{where}: {key} must be an integer, got {v!r}")


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe loader that refuses a mapping with the same key twice (YAML would keep the last)."""

    def construct_mapping(self, node, deep=False):  # type: ignore[no-untyped-def]
        seen: set = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise ValueError(f"duplicate key {key!r} (line {key_node.start_mark.line + 1})")
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def read_yaml(path: str | Path) -> Any:
    """The data of a UTF-8 YAML file; ``ValueError`` naming the file for a missing file, bytes
    that are not UTF-8, invalid YAML or a duplicate key."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"file not found: {path}" + (" (a directory)" if path.is_dir() else ""))
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"{path}: not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start})"
        ) from None
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 (a SafeLoader subclass)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        raise ValueError(f"{path}: not valid YAML{at} ({exc.__class__.__name__})") from None


def _load(source: str | Path | Mapping) -> Mapping:
    if isinstance(source, Mapping):
        return source
    return read_yaml(source)


def _named(source: str | Path | Mapping, build):  # type: ignore[no-untyped-def]
    """Run ``build`` and prefix its ``ValueError`` with the file it read, if it read one."""
    try:
        return build()
    except ValueError as exc:
        if isinstance(source, Mapping) or str(source) in str(exc):
            raise
        raise ValueError(f"{source}: {exc}") from None


def layer_from_dict(d: Mapping, where: str = "layer") -> Layer:
    kind = d.get("kind") if isinstance(d, Mapping) else None
    if kind not in _LAYER_KEYS:
        raise ValueError(f"{where}: kind must be one of {', '.join(_LAYER_KEYS)}, got {kind!r}")
    req, opt = _LAYER_KEYS[kind]
    check_keys(where, d, req, opt)
    kw = {key: v for key, v in d.items() if key not in ("name", "kind")}
    if "skips" in kw:
        skips = kw["skips"]
        if not isinstance(skips, list) or not all(
            isinstance(x, int) and not isinstance(x, bool) for x in skips
        ):
            raise ValueError(
                f"{where}: skips must be a list of earlier layer indices (integers), got {skips!r}"
            )
        kw["skips"] = tuple(skips)
    if kind == "conv":
        return Layer.conv(d["name"], **kw)
    if kind == "gemm":
        return Layer.gemm(d["name"], **kw)
    return Layer.eltwise(d["name"], **kw)


def load_model(source: str | Path | Mapping) -> Model:
    """A model from a YAML file or dict with ``name``, optional ``batch`` and a ``layers`` list,
    or from an ONNX file (``.onnx``, the ``onnx`` extra)."""
    if not isinstance(source, Mapping) and str(source).lower().endswith(".onnx"):
        from .onnx_import import load_onnx

        return load_onnx(source)
    return _named(source, lambda: _model(_load(source)))


def _model(d: Any) -> Model:
    check_keys("model", d, {"name", "layers"}, {"batch"})
    if not isinstance(d["layers"], list) or not d["layers"]:
        raise ValueError("model: layers must be a non-empty list of layer mappings")
    layers = [
        layer_from_dict(x, f"model {d['name']!r} layer {i}") for i, x in enumerate(d["layers"])
    ]
    return Model(d["name"], layers, d.get("batch", 1))


def layer_to_dict(layer: Layer) -> dict:
    """A layer in the YAML form :func:`layer_from_dict` reads (only the keys its kind takes)."""
    d: dict[str, Any] = {"name": layer.name, "kind": layer.kind}
    if layer.kind == "gemm":
        m, n, k = layer.gemm_dims()
        d.update(M=m, N=n, K=k, heads=layer.groups, weights=layer.weights)
    elif layer.kind == "eltwise":
        d.update(C=layer.C, Yo=layer.Yo, Xo=layer.Xo, R=layer.R, stride=layer.stride)
    else:
        d.update(K=layer.K, C=layer.C, R=layer.R, S=layer.S, Yo=layer.Yo, Xo=layer.Xo)
        d.update(stride=layer.stride, groups=layer.groups, weights=layer.weights)
    if layer.vec_ops:
        d["vec_ops"] = layer.vec_ops
    if layer.skips:
        d["skips"] = list(layer.skips)
    return d


def model_to_dict(model: Model) -> dict:
    """A model in the YAML form :func:`load_model` reads."""
    return {
        "name": model.name,
        "batch": model.batch,
        "layers": [layer_to_dict(x) for x in model.layers],
    }


def load_workload(spec: Any, where: str = "workload") -> Workload:
    """A workload from ``{scenario: sc1[, seq_len]}``, ``{models: [...]}`` or
    ``{model_file: path}``, with an optional ``name``. Each ``models`` entry is a built-in model
    ``{model, batch, seq_len|size}`` or a model definition ``{name, batch, layers}``. An
    optional ``targets`` mapping gives models latency targets (:func:`load_targets`)."""
    check_keys(
        f"{where} workload",
        spec,
        set(),
        {"scenario", "seq_len", "models", "model_file", "name", "targets"},
    )
    w = _load_workload(spec, where)
    if "targets" not in spec:
        return w
    return Workload(w.models, w.name, load_targets(spec["targets"], w, where))


def load_targets(spec: Any, w: Workload, where: str = "workload") -> tuple:
    """``w``'s targets with those of ``spec`` put in: a mapping model name -> ``{target_fps |
    deadline_s, priority}`` (costmodel/targets.py); the other models keep theirs (a scenario's
    defaults). ``ValueError`` naming the field for a model that does not exist or a target that
    is not a positive number."""
    field = f"{where} targets"
    if not isinstance(spec, Mapping):
        raise ValueError(
            f"{field} must be a mapping model name -> {{target_fps|deadline_s, priority}}"
        )
    names = [m.name for m in w.models]
    out = list(w.targets)
    for key, d in spec.items():
        if key not in names:
            raise ValueError(f"{field}: no model named {key!r}; models: {', '.join(names)}")
        i = names.index(key)
        out[i] = target_from_dict(d, w.models[i].batch, f"{field}[{key!r}]")
    return tuple(out)


def _load_workload(spec: Mapping, where: str) -> Workload:
    name = spec.get("name", "")
    if "scenario" in spec:
        if spec["scenario"] not in SCENARIOS:
            raise ValueError(
                f"{where}: unknown scenario {spec['scenario']!r}; choices: {', '.join(SCENARIOS)}"
            )
        w = scenario(spec["scenario"], seq_len=spec.get("seq_len", 128))
        return Workload(w.models, name, w.targets) if name else w
    if "model_file" in spec:
        return Workload([load_model(spec["model_file"])], name)
    models = spec.get("models")
    if not isinstance(models, list) or not models:
        raise ValueError(f"{where}: workload needs scenario, models or model_file")
    out = []
    for i, m in enumerate(models):
        if isinstance(m, Mapping) and "layers" in m:
            out.append(load_model(m))
            continue
        check_keys(f"{where} model {i}", m, {"model"}, {"batch", "seq_len", "size"})
        if m["model"] not in MODELS:
            raise ValueError(f"{where}: unknown model {m['model']!r}; choices: {', '.join(MODELS)}")
        params = {k: m[k] for k in ("seq_len", "size") if k in m}
        out.append(build_model(m["model"], batch=m.get("batch", 1), **params))
    return Workload(out, name)


_CHIPLET_KEYS = {f.name for f in dataclasses.fields(ChipletClass)} - {
    "dataflow",
    "name",
    "pe_rows",
    "pe_cols",
}
_MCM_KEYS = {
    "nop_bw",
    "nop_hop_s",
    "nop_pj_per_bit",
    "dram_bw",
    "dram_latency_s",
    "dram_pj_per_bit",
}


def load_mcm(source: str | Path | Mapping) -> MCM:
    """An MCM from a YAML file or dict (see the module docstring)."""
    return _named(source, lambda: _mcm(_load(source)))


def _number(where: str, key: str, v: Any) -> float:
    if isinstance(v, str):  # PyYAML reads 5.0e10 (no exponent sign) as a string
        try:
            v = float(v)
        except ValueError:
            pass
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0 or v == float("inf"):
        raise ValueError(f"{where}: {key} must be a positive number, got {v!r}")
    return float(v)


def _mcm(d: Any) -> MCM:
    check_keys(
        "mcm",
        d,
        set(),
        {
            "pattern",
            "rows",
            "cols",
            "grid",
            "legend",
            "pes",
            "pe_rows",
            "pe_cols",
            "dataflows",
            "chiplet",
        }
        | _MCM_KEYS,
    )
    chiplet = d.get("chiplet", {})
    check_keys("mcm chiplet", chiplet, set(), _CHIPLET_KEYS)
    kw = {key: d[key] for key in ("pes", "pe_rows", "pe_cols", "legend") if key in d}
    if "dataflows" in d:
        kw["dataflows"] = tuple(d["dataflows"])
    if "grid" in d:
        grid = d["grid"]
        if not isinstance(grid, list) or not all(isinstance(r, str) for r in grid):
            raise ValueError("mcm: grid must be a list of strings of dataflow letters")
        m = mcm(grid=grid, **kw, **chiplet)
    else:
        if "pattern" not in d:
            raise ValueError("mcm: missing key 'pattern' (or give 'grid')")
        m = mcm(d["pattern"], d.get("rows", 2), d.get("cols", 2), **kw, **chiplet)
    # float fields of MCM by name (mypy cannot match ``**dict[str, float]`` to them)
    extra: dict[str, Any] = {key: _number("mcm", key, d[key]) for key in _MCM_KEYS if key in d}
    return dataclasses.replace(m, **extra) if extra else m
