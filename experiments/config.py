"""Experiment configs: YAML validated key by key before anything is written."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from costmodel import SCENARIOS, Problem, Workload
from costmodel.config import check_keys, load_mcm, load_workload

KINDS = ("search", "seed", "scar", "hetero", "benchmark", "scaling")
COMMON = {
    "name",
    "kind",
    "out",
    "objective",
    "agents",
    "seeds",
    "budget",
    "max_windows",
    "agent_options",
}
KIND_KEYS: dict[str, tuple[set[str], set[str]]] = {
    "search": ({"workload", "mcm"}, {"baselines"}),
    "seed": ({"workload", "mcm"}, {"sweep", "objectives"}),
    "scar": ({"scenarios", "strategies"}, {"rows", "cols", "objectives", "pes"}),
    "hetero": ({"mixes", "chiplet_pes", "pairs", "noc_bw"}, {"rows", "cols", "het_patterns"}),
    "benchmark": ({"problems"}, set()),
    "scaling": ({"sizes"}, {"pattern", "population"}),
}


def load_config(path: str | Path) -> dict:
    """Read and validate a config; ``ValueError`` names the key and the choices."""
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"config file not found: {p}")
    try:
        cfg = yaml.safe_load(p.read_text())
    except yaml.YAMLError as exc:
        raise ValueError(f"{p}: not valid YAML ({exc.__class__.__name__})") from None
    return validate_config(cfg, where=str(p))


def validate_config(cfg: Any, where: str = "config") -> dict:
    if not isinstance(cfg, Mapping):
        raise ValueError(f"{where}: must be a mapping of keys")
    kind = cfg.get("kind")
    if kind not in KINDS:
        raise ValueError(f"{where}: kind must be one of {', '.join(KINDS)}, got {kind!r}")
    req, opt = KIND_KEYS[kind]
    check_keys(where, cfg, {"name", "kind", "budget"} | req, COMMON | req | opt)
    cfg = dict(cfg)
    if not isinstance(cfg["name"], str) or not cfg["name"]:
        raise ValueError(f"{where}: name must be a non-empty string")
    cfg.setdefault("objective", "edp")
    cfg.setdefault("agents", ["ga"])
    cfg.setdefault("seeds", [0])
    cfg.setdefault("agent_options", {})
    if isinstance(cfg["seeds"], int):
        cfg["seeds"] = list(range(cfg["seeds"]))
    if not isinstance(cfg["seeds"], list) or not all(isinstance(s, int) for s in cfg["seeds"]):
        raise ValueError(f"{where}: seeds must be an integer or a list of integers")
    if not isinstance(cfg["agents"], list) or not cfg["agents"]:
        raise ValueError(f"{where}: agents must be a non-empty list of agent names")
    from search import AGENTS, Budget, agent_class

    for a in cfg["agents"]:
        if a not in AGENTS:
            raise ValueError(f"{where}: unknown agent {a!r}; choices: {', '.join(AGENTS)}")
    for a, opts in cfg["agent_options"].items():
        agent_class(a)(**opts)  # unknown options fail now
    b = cfg["budget"]
    check_keys(f"{where} budget", b, set(), {"evals", "seconds"})
    Budget(**b)
    from costmodel.problem import OBJECTIVES

    if cfg["objective"] not in OBJECTIVES:
        raise ValueError(
            f"{where}: unknown objective {cfg['objective']!r}; choices: {', '.join(OBJECTIVES)}"
        )
    if kind in ("search", "seed"):
        build_workload(cfg["workload"], where)
        load_mcm(cfg["mcm"])
    if kind == "scar":
        for s in cfg["scenarios"]:
            if s not in SCENARIOS:
                raise ValueError(
                    f"{where}: unknown scenario {s!r}; choices: {', '.join(SCENARIOS)}"
                )
    if kind == "benchmark":
        if not isinstance(cfg["problems"], Mapping) or not cfg["problems"]:
            raise ValueError(f"{where}: problems must be a mapping name -> problem")
        for name, spec in cfg["problems"].items():
            check_keys(
                f"{where} problem {name}", spec, set(), {"workload", "mcm", "small_instance"}
            )
            if "small_instance" not in spec:
                build_workload(spec["workload"], where)
                load_mcm(spec["mcm"])
    return cfg


def build_workload(spec: Any, where: str = "workload") -> Workload:
    """``{scenario: sc1[, seq_len]}``, ``{models: [{model, batch, seq_len|size}]}`` (or inline
    model definitions ``{name, batch, layers}``) or ``{model_file: path}``."""
    return load_workload(spec, where)


def build_problem(spec: Mapping, objective: str, max_windows: int | None = None) -> Problem:
    return Problem(
        build_workload(spec["workload"]),
        load_mcm(spec["mcm"]),
        objective=objective,
        max_windows=max_windows,
    )
